// EmbeddedSession front end (anywidget ES module; no build step, no imports).
// Renders the practice iframe, relays its lifecycle messages to the kernel with model.send, and forwards
// the kernel's messages (session notes, sandbox replies) into the frame. It never calls the API itself:
// every request goes through the kernel, so the API token never reaches the browser.

const ALLOW = "microphone; camera; display-capture; autoplay; clipboard-write";

function jupyterTheme() {
  const body = document.body;
  const light = body && body.dataset ? body.dataset.jpThemeLight : undefined;
  if (light === "false") return "dark";
  if (light === "true") return "light";
  return "auto";
}

function preparePage(html) {
  // The simulated page is built in Python; only the host's origin and theme are known here.
  return html
    .replace("__TTAI_PARENT_ORIGIN__", window.location.origin)
    .replace('data-ttai-theme="auto"', 'data-ttai-theme="' + jupyterTheme() + '"');
}

function jsonSafe(value) {
  try {
    return JSON.parse(JSON.stringify(value));
  } catch (err) {
    return null;
  }
}

function render({ model, el }) {
  const simulated = Boolean(model.get("srcdoc"));
  const root = document.createElement("div");
  root.className = "ttai-embed";

  const bar = document.createElement("div");
  bar.className = "ttai-embed-bar";
  const label = document.createElement("span");
  label.className = "ttai-embed-label" + (simulated ? " ttai-embed-sandbox" : "");
  label.textContent = model.get("label") || "Tough Tongue AI practice session";
  const status = document.createElement("span");
  status.className = "ttai-embed-status";
  const open = document.createElement("a");
  open.className = "ttai-embed-open";
  open.textContent = "Open in a new tab";
  open.href = simulated ? "#" : model.get("src");
  open.target = "_blank";
  open.title = simulated
    ? "Open this simulated session in its own tab (events still reach the notebook)"
    : "Use this if the microphone is blocked inside the notebook";
  bar.append(label, status, open);

  const frame = document.createElement("iframe");
  frame.className = "ttai-embed-frame";
  frame.setAttribute("allow", ALLOW);
  frame.setAttribute("title", simulated ? "Simulated practice session (sandbox)" : "Tough Tongue AI practice session");
  frame.style.height = model.get("height") + "px";
  let page = "";
  if (simulated) {
    // An opaque origin: the simulated page cannot reach the notebook's DOM or cookies.
    frame.setAttribute("sandbox", "allow-scripts allow-forms");
    page = preparePage(model.get("srcdoc"));
    frame.srcdoc = page;
  } else {
    frame.src = model.get("src");
  }
  const note = document.createElement("div");
  note.className = "ttai-embed-note";
  root.append(bar, frame, note);
  el.appendChild(root);

  let popup = null;
  let blobUrl = null;

  function showStatus() {
    const value = model.get("status") || "ready";
    status.textContent = value;
    status.dataset.status = value;
  }
  showStatus();

  function accepted(event) {
    // Only our own frame (or the tab we opened), and only from an allowed origin.
    const fromFrame = event.source !== null && event.source === frame.contentWindow;
    const fromTab = popup !== null && event.source !== null && event.source === popup;
    if (!fromFrame && !fromTab) return null;
    if (simulated) {
      const expected = fromFrame ? "null" : window.location.origin;
      return event.origin === expected ? (fromFrame ? "iframe" : "tab") : null;
    }
    const allowed = model.get("allowed_origins") || [];
    return allowed.indexOf(event.origin) >= 0 ? (fromFrame ? "iframe" : "tab") : null;
  }

  function onMessage(event) {
    const via = accepted(event);
    if (via === null) return;
    let data = event.data;
    if (typeof data === "string") {
      try {
        data = JSON.parse(data);
      } catch (err) {
        return;
      }
    }
    data = jsonSafe(data);
    if (!data || typeof data !== "object") return;
    model.send({ kind: "message", data: data, origin: event.origin, via: via, received_ms: Date.now() });
  }
  window.addEventListener("message", onMessage);

  function deliver(message, where) {
    const targets = [];
    if ((where === "iframe" || where === "all" || !where) && frame.contentWindow) targets.push([frame.contentWindow, false]);
    if ((where === "tab" || where === "all" || !where) && popup && !popup.closed) targets.push([popup, true]);
    for (const [win, isTab] of targets) {
      let origin;
      if (simulated) origin = isTab ? window.location.origin : "*"; // an opaque-origin frame can only be addressed as "*"
      else {
        try {
          origin = new URL(model.get("src")).origin;
        } catch (err) {
          continue;
        }
      }
      win.postMessage(message, origin);
    }
  }

  function onCustom(msg) {
    if (msg && msg.kind === "to_iframe" && msg.message && typeof msg.message === "object") {
      deliver(msg.message, msg.target);
    }
  }
  model.on("msg:custom", onCustom);
  model.on("change:status", showStatus);

  open.addEventListener("click", function (event) {
    event.preventDefault();
    let url = model.get("src");
    if (simulated) {
      if (blobUrl === null) blobUrl = URL.createObjectURL(new Blob([page], { type: "text/html" }));
      url = blobUrl;
    }
    // Keep a handle on the tab (no "noopener") so its lifecycle messages can be told apart and accepted.
    const tab = window.open(url, "_blank");
    if (tab) {
      popup = tab;
      model.send({ kind: "tab_opened" });
      note.textContent = "Opened in a new tab. Events from that tab reach the notebook while this page stays open.";
    } else {
      note.textContent = "The browser blocked the new tab: allow pop-ups for this page, or use the frame above.";
    }
  });

  return () => {
    window.removeEventListener("message", onMessage);
    model.off("msg:custom", onCustom);
    model.off("change:status", showStatus);
    if (blobUrl !== null) URL.revokeObjectURL(blobUrl);
  };
}

export default { render };
