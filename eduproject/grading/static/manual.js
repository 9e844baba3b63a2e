// The manual-grading page's keys and saving (served as /static/manual.js: the page's
// Content Security Policy runs no inline script). See docs/manual.md.
(function () {
  "use strict";

  // The sign-in page: a token in the address's fragment (#token=...) signs in at once.
  // (A fragment never reaches the server or its logs; it is removed from the history.)
  var login = document.getElementById("login");
  if (login) {
    var found = /^#token=(.+)$/.exec(location.hash);
    if (found) {
      history.replaceState(null, "", location.pathname);
      document.getElementById("token").value = decodeURIComponent(found[1]);
      login.submit();
    }
    return;
  }

  var form = document.getElementById("grade");
  var nav = document.getElementById("nav");
  var status = document.getElementById("status");
  var points = document.getElementById("points");
  var comment = document.getElementById("comment");
  var dirty = false;
  var inflight = Promise.resolve(true);

  function say(text, kind) {
    if (status) {
      status.textContent = text;
      status.className = kind || "";
    }
  }

  function setText(id, text) {
    var node = document.getElementById(id);
    if (node) node.textContent = text;
  }

  function update(data) {
    var done = data.lesson_total - data.lesson_left;
    var bar = document.getElementById("lesson-progress");
    if (bar) bar.value = done;
    setText("lesson-left", data.lesson_left + " of " + data.lesson_total + " answers left");
    var q = document.getElementById("question-left");
    if (q) q.textContent = q.textContent.replace(/^\d+/, String(data.question_left));
    var current = document.querySelector("nav.questions a.current .qleft");
    if (current) current.textContent = "(" + data.question_left + " left)";
    var state = document.getElementById("state");
    if (state) {
      var max = points.getAttribute("data-max");
      if (data.points === null) {
        state.textContent = "not graded yet";
        state.className = "pill pending";
      } else {
        state.textContent = "graded: " + data.points + " / " + max;
        state.className = "pill done";
      }
    }
  }

  function send() {
    if (!form || !dirty) return Promise.resolve(true);
    dirty = false;
    say("saving\u2026");
    return fetch("/save", {
      method: "POST",
      body: new URLSearchParams(new FormData(form)),
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    }).then(
      function (response) {
        return response.json().then(function (data) {
          if (!response.ok) {
            dirty = true;
            say("not saved: " + (data.error || response.status), "error");
            return false;
          }
          say("saved", "saved");
          update(data);
          return true;
        });
      },
      function () {
        dirty = true;
        say("not saved: the server did not answer", "error");
        return false;
      }
    );
  }

  // Saves run one after another, and navigation waits for the last one.
  function save() {
    inflight = inflight.then(send, send);
    return inflight;
  }

  function go(url, none) {
    if (!url) {
      say(none, "");
      return;
    }
    save().then(function (ok) {
      if (ok) location.href = url;
    });
  }

  if (form) {
    form.addEventListener("input", function () {
      dirty = true;
      say("not saved yet");
    });
    form.addEventListener("focusout", function () {
      if (dirty) save(); // a field left after a change
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      dirty = true;
      save();
    });
    points.addEventListener("keydown", function (event) {
      if (event.key !== "Enter") return;
      event.preventDefault();
      var d = nav.dataset;
      go(d.next || d.nextPending, "saved; this was the last learner and nothing is left");
    });
  }

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    var typing = target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA");
    if (typing) {
      if (event.key === "Escape") target.blur();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var d = nav.dataset;
    if (/^[0-9.]$/.test(event.key) && points) {
      // A digit starts typing the points.
      points.focus();
      points.value = event.key;
      dirty = true;
      event.preventDefault();
      return;
    }
    switch (event.key) {
      case "j":
      case "ArrowRight":
        go(d.next, "this is the last learner");
        break;
      case "k":
      case "ArrowLeft":
        go(d.prev, "this is the first learner");
        break;
      case "n":
        go(d.nextQuestion, "");
        break;
      case "p":
        go(d.prevQuestion, "");
        break;
      case "u":
        go(d.nextPending, "nothing is left to grade");
        break;
      case "g":
        if (points) {
          points.focus();
          points.select();
        }
        break;
      case "c":
        if (comment) comment.focus();
        break;
      default:
        return;
    }
    event.preventDefault();
  });
  document.documentElement.setAttribute("data-keys", "on"); // the keys work from now on
})();
