// The creator dashboard: the analytics API drawn as cards, bar charts and tables, and the
// creator's conversations, all read with the viewer's own token. Text from the data only ever
// goes in through textContent, so a student's question can never become markup.

const TOKEN_KEY = "chronos-chat-token";
const SVG = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);

const count = new Intl.NumberFormat("en-US");
const decimal = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });
const compact = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 2 });

// A card holds a few characters: millions and more as "1.23M" (the exact count in its title).
function shortCount(value) {
  return value >= 1_000_000 ? compact.format(value) : count.format(value);
}

// Display only: the API sends exact decimal strings; a float is fine for reading them.
function usd(value) {
  const amount = Number(value);
  if (amount > 0 && amount < 0.00005) return "< $0.0001"; // not "$0.0000": it is not nothing
  const digits = amount !== 0 && Math.abs(amount) < 1 ? 4 : 2;
  return new Intl.NumberFormat("en-US", {
    style: "currency", currency: "USD", minimumFractionDigits: digits, maximumFractionDigits: digits,
  }).format(amount);
}

// Exact, as the API keeps it (nano-dollars), without the trailing zeros: "$0.00465".
function exactUsd(value) {
  const [whole, fraction = ""] = String(value).split(".");
  const digits = fraction.replace(/0+$/, "");
  return `$${whole}${digits ? `.${digits}` : ""}`;
}

function plural(n, noun) {
  return `${count.format(n)} ${noun}${n === 1 ? "" : "s"}`;
}

function minutes(value) {
  return value < 1 ? `${Math.round(value * 60)} s` : `${decimal.format(value)} min`;
}

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function setStatus(message, isError = false) {
  const status = $("status");
  status.textContent = message;
  status.classList.toggle("error", isError);
}

// --- the token ---------------------------------------------------------------------------

function takeTokenFromUrl() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const token = fragment.get("token");
  if (!token) return;
  sessionStorage.setItem(TOKEN_KEY, token);
  // Out of the address bar and the history, so the token is not shared with the URL.
  history.replaceState(null, "", location.pathname + location.search);
}

function showSignIn(message) {
  $("report").hidden = true;
  $("controls").hidden = true;
  $("sign-in").hidden = false;
  setStatus(message ?? "", Boolean(message));
}

// --- loading -----------------------------------------------------------------------------

class Refused extends Error {}

// A GET of the API with the tab's token. A refused token is forgotten and the sign-in form
// shown (Refused); any other failure throws an Error whose message can be shown as it is.
async function api(path) {
  let response;
  try {
    response = await fetch(path, { headers: { Authorization: `Bearer ${sessionStorage.getItem(TOKEN_KEY)}` } });
  } catch {
    throw new Error("The server cannot be reached. Is chronos-chat running?");
  }
  if (response.ok) return response;
  const body = await response.json().catch(() => null);
  if (response.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    showSignIn(`Sign in again: ${body?.message ?? "the token was refused"}.`);
    throw new Refused();
  }
  throw new Error(body?.message ?? `The server answered ${response.status}.`);
}

async function getJson(path) {
  return (await api(path)).json();
}

// A service token may look at any creator: ?creator_id=... on the page's own URL.
function withCreator(params) {
  const creator = new URLSearchParams(location.search).get("creator_id");
  if (creator) params.set("creator_id", creator);
  return params;
}

function selectedZone() {
  return $("controls").tz.value.trim() || "UTC";
}

async function load() {
  if (!sessionStorage.getItem(TOKEN_KEY)) return showSignIn();
  const controls = $("controls");
  $("sign-in").hidden = true;
  controls.hidden = false;
  setStatus("Loading…");
  const params = withCreator(new URLSearchParams({
    period: controls.period.value, tz: selectedZone(), usage: "true", cost_projection: "true",
  }));
  let data;
  try {
    data = await getJson(`/api/chat/analytics?${params}`);
  } catch (error) {
    if (error instanceof Refused) return;
    $("report").hidden = true;
    return setStatus(error.message, true);
  }
  render(data);
  setStatus("");
  browsing.window = { since: data.analytics.since, until: data.analytics.until };
  // The slower reports come after the figures, side by side; one that fails says so in its
  // own panel and leaves the rest standing.
  await Promise.all([
    inPanel("gaps", () => loadGaps(data.analytics.period)),
    inPanel("models", loadSpend),
    inPanel("sessions", loadSessions),
    browsing.student && inPanel("student-filter-text", loadStudentSpend),
  ]);
}

async function inPanel(id, work) {
  try {
    await work();
  } catch (error) {
    if (error instanceof Refused) return;
    const panel = $(id);
    const tag = { TABLE: "caption", SPAN: "span" }[panel.tagName] ?? "p";
    panel.replaceChildren(element(tag, error.message, "error"));
  }
}

// --- drawing -----------------------------------------------------------------------------

function render(data) {
  const a = data.analytics;
  $("creator").textContent = `${a.creator_id} · ${periodLabel(a)} · ${a.timezone}`;
  $("tz-label").textContent = a.timezone;
  renderTotals(a);
  // Costs are exact or absent, never guessed: say when some messages could not be priced.
  $("unpriced").hidden = a.unpriced_messages === 0;
  $("unpriced").textContent = `${plural(a.unpriced_messages, "message")} used a model without a known price; `
    + "their cost is not in these totals.";
  barChart($("usage-messages"), data.usage.map((day) => ({
    label: day.date.slice(5), value: day.messages_sent,
    title: `${day.date}: ${count.format(day.messages_sent)} messages, ${day.unique_students} students`,
  })), count.format);
  barChart($("usage-cost"), data.usage.map((day) => ({
    label: day.date.slice(5), value: Number(day.cost_usd), title: `${day.date}: ${usd(day.cost_usd)}`,
  })), usd);
  renderHours(a.peak_usage_hours);
  renderCost(data.cost_projection, data.optimization_suggestions);
  renderTables(a);
  $("gaps").replaceChildren(element("p", "Looking for questions the videos did not answer…", "empty"));
  $("report").hidden = false;
}

function periodLabel(a) {
  const until = a.until.slice(0, 16).replace("T", " ");
  return a.since ? `${a.since.slice(0, 16).replace("T", " ")} to ${until} UTC` : `everything to ${until} UTC`;
}

function renderTotals(a) {
  const figures = [
    ["total_sessions", "Sessions", count.format(a.total_sessions)],
    ["total_messages", "Messages", count.format(a.total_messages)],
    ["total_students", "Students", count.format(a.total_students)],
    ["returning_students", "Returning students", count.format(a.engagement.returning_students)],
    ["avg_messages_per_session", "Messages per session", decimal.format(a.avg_messages_per_session)],
    ["avg_session_duration_minutes", "Average session", minutes(a.avg_session_duration_minutes)],
    ["total_tokens", "Tokens", shortCount(a.total_tokens), count.format(a.total_tokens)],
    ["total_cost", "Cost", usd(a.total_cost), exactUsd(a.total_cost)],
  ];
  $("totals").replaceChildren(...figures.map(([key, label, value, exact]) => {
    const card = element("div", undefined, "card");
    const dd = element("dd", value);
    dd.dataset.figure = key;
    if (exact) dd.title = exact;
    card.append(element("dt", label), dd);
    return card;
  }));
}

function renderHours(hours) {
  const byHour = new Map(hours.map((h) => [h.hour, h.message_count]));
  barChart($("peak-hours"), Array.from({ length: 24 }, (_, hour) => ({
    label: String(hour).padStart(2, "0"), value: byHour.get(hour) ?? 0,
    title: `${String(hour).padStart(2, "0")}:00: ${count.format(byHour.get(hour) ?? 0)} messages`,
  })), count.format);
}

function renderCost(projection, suggestions) {
  // The projection adds up whole UTC days up to today, which need not match the period above.
  const first = new Date(Date.now() - (Math.max(projection.days_observed, 1) - 1) * 86_400_000);
  const since = first.toLocaleDateString("en-US", { month: "short", day: "numeric", timeZone: "UTC" });
  const pairs = [
    [`Spent since ${since} (UTC days)`, usd(projection.total_cost)],
    ["Average a day", usd(projection.average_daily_cost)],
    ["Projected for a month", usd(projection.projected_monthly_cost)],
  ];
  $("projection").replaceChildren(...pairs.flatMap(([label, value]) => [element("dt", label), element("dd", value)]));
  $("suggestions").replaceChildren(...suggestions.map((s) => {
    const item = element("li", undefined, `priority-${s.priority}`);
    item.append(
      element("strong", s.title),
      element("span", ` save about ${s.potential_savings_percent}% (${usd(s.estimated_savings_usd)} a month)`),
      element("p", s.description),
    );
    return item;
  }));
}

// Spend over exactly the analytics' window, so it adds up to what the cards say.
function spendRange(extra = {}) {
  const range = withCreator(new URLSearchParams({ ...extra, until: browsing.window.until }));
  if (browsing.window.since) range.set("since", browsing.window.since);
  return range;
}

async function loadSpend() {
  const spend = await getJson(`/api/chat/costs?${spendRange()}`);
  const rows = spend.by_model.filter((m) => m.message_count > 0).map((m) => [
    m.model ?? "no model", count.format(m.message_count),
    count.format(m.input_tokens + m.output_tokens + m.cache_read_tokens + m.cache_write_tokens + m.embedding_tokens),
    m.unpriced_message_count ? "no price" : usd(m.total_cost),
  ]);
  table($("models"), ["Model", "Messages", "Tokens", "Cost"], rows);
}

function renderTables(a) {
  const moments = new Map(a.most_cited_moments.map((v) => [v.video_id, v.moments]));
  table($("videos"), ["Video", "Citations", "Sessions", "Most cited minutes"], a.most_referenced_videos.map((v) => [
    v.video_title ?? v.video_id, count.format(v.reference_count), count.format(v.unique_sessions),
    (moments.get(v.video_id) ?? []).slice(0, 3).map((m) => `${m.minute}:00`).join(", "),
  ]));
  table($("students"), ["Student", "Sessions", "Questions"], a.most_active_students.map((s) => [
    linkTo(s.student_name ?? s.student_id, () => showStudent(s.student_id, s.student_name ?? s.student_id)),
    count.format(s.session_count), count.format(s.message_count),
  ]));
  table($("topics"), ["Topic", "Questions"], a.common_topics.map((t) => [t.keyword, count.format(t.count)]));
}

async function loadGaps(period) {
  const params = withCreator(new URLSearchParams({ period }));
  renderGaps(await getJson(`/api/chat/content-gaps?${params}`));
}

function renderGaps(gaps) {
  const container = $("gaps");
  if (!gaps.length) {
    container.replaceChildren(element("p", "Every question in this period found a close match in the videos.", "empty"));
    return;
  }
  container.replaceChildren(...gaps.map((gap) => {
    const block = element("details", undefined, "gap");
    const summary = element("summary");
    summary.append(element("strong", gap.keyword), element("span", ` ${plural(gap.count, "question")}`));
    const examples = element("ul");
    examples.append(...gap.examples.map((question) => element("li", question)));
    block.append(summary, examples);
    return block;
  }));
}

function linkTo(text, onClick) {
  const button = element("button", text, "link");
  button.type = "button";
  button.addEventListener("click", onClick);
  return button;
}

// A table of text (or element) cells; columns from ``firstNumber`` on are figures, aligned right.
function table(node, headings, rows, { empty = "Nothing in this period.", firstNumber = 1 } = {}) {
  if (!rows.length) {
    node.replaceChildren(element("caption", empty, "empty"));
    return;
  }
  const head = element("tr");
  head.append(...headings.map((h) => element("th", h)));
  const body = element("tbody");
  body.append(...rows.map((cells) => {
    const row = element("tr");
    row.append(...cells.map((cell, i) => {
      const td = element("td", typeof cell === "string" ? cell : undefined, i >= firstNumber ? "number" : undefined);
      if (typeof cell !== "string") td.append(cell);
      return td;
    }));
    return row;
  }));
  const thead = element("thead");
  thead.append(head);
  node.replaceChildren(thead, body);
}

// Bars in an SVG that scales with its box; each bar names its value on hover.
function barChart(node, points, format) {
  const max = Math.max(0, ...points.map((p) => p.value));
  if (max === 0) {
    node.replaceChildren(element("p", "Nothing in this period.", "empty"));
    return;
  }
  const width = 600, height = 160, labels = 16, slot = width / points.length;
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height + labels}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `highest ${format(max)}`);
  const every = Math.ceil(points.length / 12);
  points.forEach((point, i) => {
    const barHeight = (point.value / max) * height;
    const bar = document.createElementNS(SVG, "rect");
    bar.setAttribute("x", String(i * slot + slot * 0.15));
    bar.setAttribute("y", String(height - barHeight));
    bar.setAttribute("width", String(slot * 0.7));
    bar.setAttribute("height", String(barHeight));
    const title = document.createElementNS(SVG, "title");
    title.textContent = point.title;
    bar.append(title);
    svg.append(bar);
    if (i % every === 0) {
      const label = document.createElementNS(SVG, "text");
      label.setAttribute("x", String(i * slot + slot / 2));
      label.setAttribute("y", String(height + labels - 3));
      label.textContent = point.label;
      svg.append(label);
    }
  });
  node.replaceChildren(svg);
}

// --- conversations -----------------------------------------------------------------------

const PAGE_SIZE = 10;
const browsing = { page: 1, query: "", pages: 1, open: null, student: null, window: null };

function when(iso) {
  const options = { dateStyle: "medium", timeStyle: "short" };
  try {
    return new Intl.DateTimeFormat("en-US", { ...options, timeZone: selectedZone() }).format(new Date(iso));
  } catch {  // a zone the browser does not know: the server's answer already said so
    return new Intl.DateTimeFormat("en-US", { ...options, timeZone: "UTC" }).format(new Date(iso));
  }
}

function videoTime(seconds) {
  const whole = Math.floor(seconds);
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
}

async function loadSessions() {
  const params = withCreator(new URLSearchParams({ page: String(browsing.page), limit: String(PAGE_SIZE) }));
  if (browsing.query) params.set("search", browsing.query);
  if (browsing.student) params.set("student_id", browsing.student.id);
  const page = await getJson(`/api/chat/sessions?${params}`);
  browsing.pages = Math.max(page.total_pages, 1);
  renderSessions(page);
}

function renderSessions(page) {
  $("page-info").textContent = `page ${page.page} of ${browsing.pages} · ${plural(page.total, "conversation")}`;
  $("previous-page").disabled = page.page <= 1;
  $("next-page").disabled = page.page >= browsing.pages;
  const rows = page.data.map((session) => {
    const title = element("div");
    title.append(linkTo(session.title ?? session.preview ?? "Untitled conversation", () => openConversation(session.id)));
    if (session.snippet) title.append(element("p", session.snippet, "snippet"));
    return [title, session.student_id, count.format(session.message_count), when(session.last_message_at)];
  });
  const empty = browsing.query ? "No conversation matches." : "No conversations yet.";
  table($("sessions"), ["Conversation", "Student", "Messages", "Last activity"], rows, { empty, firstNumber: 2 });
}

async function openConversation(id) {
  try {
    const session = await getJson(`/api/chat/sessions/${encodeURIComponent(id)}?messages=true`);
    renderConversation(session);
    browsing.open = session.id;
    $("conversation").showModal();
  } catch (error) {
    if (!(error instanceof Refused)) setStatus(error.message, true);
  }
}

function renderConversation(session) {
  $("conversation-title").textContent = session.title ?? "Untitled conversation";
  $("conversation-about").textContent =
    `${session.student_id} · started ${when(session.created_at)} · ${plural(session.message_count, "message")}`;
  $("messages").replaceChildren(...session.messages.map((message) => {
    const item = element("li", undefined, `message ${message.role}`);
    const meta = element("p", `${message.role} · ${when(message.created_at)}`, "meta");
    item.append(meta, element("p", message.content, "content"));
    if (message.video_references.length) {
      const refs = element("ul", undefined, "references");
      refs.append(...message.video_references.map((ref) => {
        const at = ref.timestamp == null ? "" : ` at ${videoTime(ref.timestamp)}`;
        const close = ref.similarity == null ? "" : ` (match ${Math.round(ref.similarity * 100)}%)`;
        return element("li", `${ref.video_title ?? ref.video_id}${at}${close}`);
      }));
      item.append(refs);
    }
    return item;
  }));
}

// The export needs the token, so it is fetched here and handed to the browser as a file.
async function downloadMarkdown() {
  const id = browsing.open;
  try {
    const text = await (await api(`/api/chat/export/${encodeURIComponent(id)}?format=markdown`)).blob();
    const link = element("a");
    link.href = URL.createObjectURL(text);
    link.download = `session-${id}.md`;
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  } catch (error) {
    if (!(error instanceof Refused)) setStatus(error.message, true);
  }
}

// A student's conversations with this creator, and what they cost over the period shown.
async function showStudent(id, label) {
  browsing.student = { id, label };
  browsing.page = 1;
  await Promise.all([inPanel("student-filter-text", loadStudentSpend), inPanel("sessions", loadSessions)]);
  $("conversations").scrollIntoView();
}

async function loadStudentSpend() {
  const { id, label } = browsing.student;
  const spend = await getJson(`/api/chat/costs?${spendRange({ student_id: id })}`);
  $("student-filter-text").textContent =
    `Conversations of ${label} · ${plural(spend.message_count, "message")} in this period, ${exactUsd(spend.total_cost)}`;
  $("student-filter").hidden = false;
}

async function showEveryone() {
  browsing.student = null;
  browsing.page = 1;
  $("student-filter").hidden = true;
  await inPanel("sessions", loadSessions);
}

async function turnPage(step) {
  browsing.page = Math.min(Math.max(browsing.page + step, 1), browsing.pages);
  await inPanel("sessions", loadSessions);
}

// --- wiring ------------------------------------------------------------------------------

function start() {
  takeTokenFromUrl();
  const controls = $("controls");
  controls.tz.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  controls.addEventListener("submit", (event) => { event.preventDefault(); load(); });
  controls.period.addEventListener("change", () => load());
  $("sign-in").addEventListener("submit", (event) => {
    event.preventDefault();
    const field = event.target.token;
    sessionStorage.setItem(TOKEN_KEY, field.value.trim());
    field.value = "";
    load();
  });
  $("session-search").addEventListener("submit", (event) => {
    event.preventDefault();
    browsing.query = event.target.q.value.trim();
    browsing.page = 1;
    turnPage(0);
  });
  $("previous-page").addEventListener("click", () => turnPage(-1));
  $("next-page").addEventListener("click", () => turnPage(1));
  $("everyone").addEventListener("click", showEveryone);
  $("close-conversation").addEventListener("click", () => $("conversation").close());
  $("export-markdown").addEventListener("click", downloadMarkdown);
  $("sign-out").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    showSignIn("Signed out.");
  });
  load();
}

start();
