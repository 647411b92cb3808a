// Live job progress: one WebSocket per unfinished job shown on the page (ws/jobs/<id>/).
//
// Markup: an element with data-job-id="<id>" data-status="<status>" is a job's scope;
// inside it, data-job-field="bar|percent|status|stage|attempts|error|log|connection"
// elements are updated in place, and data-job-show="<statuses…>" elements are shown
// only while the job is in one of those statuses. The server sends {"event": "state",
// status, progress, stage, error, attempts, log_tail} on connect and on every change,
// and {"event": "progress", progress, stage, line} as a runner broadcasts. A dropped
// socket reconnects with exponential backoff; a job that ended closes its socket.
// Each socket costs the server a poll a second, so a page watches at most MAX_WATCHED
// jobs: running ones first, then queued ones in the order a runner will take them.
(function () {
  "use strict";

  const FINAL = new Set(["succeeded", "failed", "cancelled"]);
  const NOT_FOUND = 4404; // the consumer's close code for a job that does not exist
  const MIN_DELAY_MS = 1000;
  const MAX_DELAY_MS = 30000;
  const MAX_WATCHED = 20;

  function socketUrl(jobId) {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    return `${scheme}://${window.location.host}/ws/jobs/${jobId}/`;
  }

  function fields(scopes, name) {
    return scopes.flatMap((scope) => Array.from(scope.querySelectorAll(`[data-job-field="${name}"]`)));
  }

  function setProgress(scopes, fraction) {
    const percent = Math.round(Math.min(Math.max(Number(fraction) || 0, 0), 1) * 100);
    for (const bar of fields(scopes, "bar")) {
      bar.setAttribute("aria-valuenow", String(percent));
      const fill = bar.firstElementChild;
      if (fill) fill.style.width = `${percent}%`;
    }
    for (const text of fields(scopes, "percent")) text.textContent = `${percent}%`;
  }

  function setText(scopes, name, value) {
    for (const element of fields(scopes, name)) element.textContent = value;
  }

  function setStatus(scopes, status) {
    for (const scope of scopes) {
      scope.dataset.status = status;
      for (const element of scope.querySelectorAll("[data-job-show]")) {
        element.hidden = !element.dataset.jobShow.split(/\s+/).includes(status);
      }
    }
    for (const badge of fields(scopes, "status")) {
      badge.textContent = status;
      badge.className = `status ${status}`;
    }
  }

  function applyState(scopes, state) {
    setStatus(scopes, state.status);
    setProgress(scopes, state.progress);
    setText(scopes, "stage", state.stage || (state.status === "queued" ? "waiting for a runner" : ""));
    setText(scopes, "attempts", String(state.attempts));
    for (const box of fields(scopes, "error")) {
      box.textContent = state.error || "";
      box.hidden = !state.error;
    }
    if (state.log_tail) setText(scopes, "log", state.log_tail);
  }

  function applyProgress(scopes, event) {
    if (event.progress !== undefined) setProgress(scopes, event.progress);
    if (event.stage) setText(scopes, "stage", event.stage);
    if (event.line) {
      for (const log of fields(scopes, "log")) {
        const lines = (log.textContent + "\n" + event.line).split("\n").filter(Boolean);
        log.textContent = lines.slice(-20).join("\n");
      }
    }
  }

  function setConnection(scopes, state) {
    for (const dot of fields(scopes, "connection")) {
      dot.className = `live-dot ${state}`;
      dot.title = state === "live" ? "live updates" : "reconnecting…";
    }
  }

  function watch(jobId, scopes) {
    let delay = MIN_DELAY_MS;
    let finished = false;

    function connect() {
      const socket = new WebSocket(socketUrl(jobId));
      socket.addEventListener("open", () => {
        delay = MIN_DELAY_MS;
        setConnection(scopes, "live");
      });
      socket.addEventListener("message", (message) => {
        const data = JSON.parse(message.data);
        if (data.event === "state") {
          applyState(scopes, data);
          if (FINAL.has(data.status)) {
            finished = true;
            socket.close();
          }
        } else if (data.event === "progress") {
          applyProgress(scopes, data);
        }
      });
      socket.addEventListener("close", (event) => {
        if (finished || event.code === NOT_FOUND) {
          setConnection(scopes, "");
          return;
        }
        setConnection(scopes, "reconnecting");
        window.setTimeout(connect, delay);
        delay = Math.min(delay * 2, MAX_DELAY_MS);
      });
    }

    connect();
  }

  function start() {
    const byJob = new Map();
    for (const scope of document.querySelectorAll("[data-job-id]")) {
      if (FINAL.has(scope.dataset.status)) continue;
      const id = scope.dataset.jobId;
      if (!byJob.has(id)) byJob.set(id, []);
      byJob.get(id).push(scope);
    }
    const running = (scopes) => scopes.some((scope) => scope.dataset.status === "running");
    const ids = Array.from(byJob.keys()).sort(
      (a, b) => running(byJob.get(b)) - running(byJob.get(a)) || Number(a) - Number(b)
    );
    for (const id of ids.slice(0, MAX_WATCHED)) watch(id, byJob.get(id));
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
