"""LTI 1.3 grade passback: the tool's keys (``keys.py``), the LMS's services (``platform.py``)
and ``eduproject lti sync`` (``sync.py``). See docs/classroom.md."""
