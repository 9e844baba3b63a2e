"""Small pieces of infrastructure every layer shares, each written once.

``sqlite`` opens SQLite files, ``sse`` reads and writes Server-Sent Events, ``html`` is the
shell of every HTML page eduproject writes, ``markdown`` turns untrusted markdown into safe
HTML, ``net`` opens the local servers' listening sockets, ``stats`` computes the percentiles,
medians and amounts per unit of every summary. These modules import nothing else of
eduproject but its errors.
"""
