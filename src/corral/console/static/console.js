// The session page's live timeline: entries from /console/sessions/{id}/stream, added as they happen.
// Everything the server sends is set with textContent (never as markup); forms come from the page's own
// <template>s. Without this script the page still shows the whole log as of its load.
const timeline = document.getElementById("timeline");
const live = document.getElementById("live");
const statusBadge = document.getElementById("status");

function say(text, link) {
  live.textContent = text;
  if (link) {
    const a = document.createElement("a");
    a.href = link.href;
    a.textContent = link.text;
    live.append(" ", a);
  }
}

function part(tag, className, text) {
  const node = document.createElement(tag);
  node.className = className;
  node.textContent = text;
  return node;
}

function actionForm(item) {
  const kind = item.dataset.type === "agent.custom_tool_use" ? "custom" : "confirm";
  const call = item.id.slice(3);
  const form = document.getElementById(`tpl-${kind}`).content.firstElementChild.cloneNode(true);
  for (const node of [form, ...form.querySelectorAll("*")]) {
    for (const name of ["id", "for", "value", "data-call"]) {
      const value = node.getAttribute(name);
      if (value && value.includes("CALL")) node.setAttribute(name, value.replace("CALL", call));
    }
  }
  return form;
}

function waitOn(calls) {
  for (const call of calls) {
    const item = document.getElementById(`ev-${call}`);
    if (item && !item.querySelector("form.action")) item.append(actionForm(item));
  }
}

function settle(call) {
  for (const form of document.querySelectorAll("form.action")) {
    if (form.dataset.call === call) form.remove();
  }
}

function show(entry) {
  const existing = document.getElementById(`ev-${entry.id}`);
  if (existing && !existing.classList.contains("streaming")) return; // already on the page
  const item = document.createElement("li");
  item.id = `ev-${entry.id}`;
  item.className = `entry kind-${entry.kind}`;
  item.dataset.type = entry.type;
  item.dataset.seq = entry.seq;
  item.append(part("p", "title", entry.title));
  if (entry.text) item.append(part("div", "text", entry.text));
  if (entry.detail) item.append(part("pre", "detail", entry.detail));
  if (existing) existing.replaceWith(item);
  else timeline.append(item);
  if (entry.answers) settle(entry.answers);
  if (entry.status) {
    statusBadge.textContent = entry.status;
    statusBadge.className = `status status-${entry.status}`;
  }
  if (entry.waits_on && entry.waits_on.length) waitOn(entry.waits_on);
}

function preview(delta) {
  let item = document.getElementById(`ev-${delta.event_id}`);
  if (!item) {
    item = document.createElement("li");
    item.id = `ev-${delta.event_id}`;
    item.className = "entry kind-message streaming";
    item.append(part("p", "title", "Agent (writing…)"), part("div", "text", ""));
    timeline.append(item);
  }
  const text = item.querySelector(".text");
  if (item.classList.contains("streaming") && text) text.textContent += delta.text;
}

let after = Number(timeline?.dataset.after || 0);

function connect() {
  const url = `/console/sessions/${timeline.dataset.session}/stream?after=${after}`;
  const source = new EventSource(url);
  source.onopen = () => say("Live: new events appear as they happen.");
  source.addEventListener("entry", (message) => {
    const entry = JSON.parse(message.data);
    after = Math.max(after, entry.seq);
    show(entry);
  });
  source.addEventListener("delta", (message) => preview(JSON.parse(message.data)));
  source.addEventListener("end", (message) => {
    source.close();
    say(`The live view ended: ${JSON.parse(message.data).reason}.`);
  });
  source.onerror = () => {
    if (source.readyState === EventSource.CONNECTING) {
      say("Connection to the server lost; reconnecting…");
      return;
    }
    source.close();
    fetch(url, { method: "HEAD" }).then(
      (answer) => {
        if (answer.status === 401) {
          say("Your sign-in is no longer valid (the key was revoked or the session expired).", {
            href: `/console/login?reason=revoked&next=${encodeURIComponent(location.pathname)}`,
            text: "Sign in again",
          });
        } else if (answer.status === 404) {
          say("This session no longer exists.");
        } else {
          say("Connection to the server lost; reconnecting…");
          setTimeout(connect, 2000);
        }
      },
      () => {
        say("Connection to the server lost; reconnecting…");
        setTimeout(connect, 2000);
      },
    );
  };
}

if (timeline && "EventSource" in window) {
  say("Connecting for live updates…");
  connect();
}
