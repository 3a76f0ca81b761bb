// One delivery attempt in the dialog: the request sent and the response (or client error).
import { copyButton } from "./copy.js";
import { curlCommand } from "./curl.js";
import { openDialog } from "./dialog.js";
import { append, h } from "./dom.js";
import { eventName } from "./catalogue.js";
import { clock, fromGregorian, isoDay } from "./time.js";

/** "success", or why it failed in plain words (the API's `cause`: "Connection refused by
 * host:port…", "HTTP 503"); Kazoo's reason when an older server gave no cause. */
export function resultText(item) {
  if (item.result === "success") return "success";
  if (item.cause) return item.cause;
  const reason = item.reason || "failure";
  const status = item.resp_status_code || item.response_code;
  return status && reason === "bad response code" ? `${reason} (${status})` : reason;
}

/** A body as sent or received, indented when its content type says it is JSON or a form. */
function prettyBody(text, headers) {
  const type = String((headers && (headers["content-type"] || headers["Content-Type"])) || "");
  if (type.includes("json")) {
    try { return JSON.stringify(JSON.parse(text), null, 2); } catch { return text; }
  }
  if (type.includes("x-www-form-urlencoded")) {
    const pairs = Array.from(new URLSearchParams(text).entries());
    return pairs.map(([k, v]) => `${k} = ${v}`).join("\n");
  }
  return text;
}

const kv = (pairs) => h("dl", { class: "kv-list" },
  pairs.filter(([, v]) => v !== undefined && v !== null && v !== "")
    .map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));

const headerTable = (headers) => headers && Object.keys(headers).length
  ? h("table", { class: "headers" }, h("tbody", {}, Object.entries(headers).map(([k, v]) =>
    h("tr", {}, h("th", { scope: "row" }, k), h("td", {}, String(v))))))
  : h("p", { class: "muted" }, "No headers.");

const bodyBlock = (text, headers) => text ? h("pre", { class: "json", tabindex: "0" }, prettyBody(text, headers))
  : h("p", { class: "muted" }, "Empty body.");

function summary(item, hookLabel) {
  const when = fromGregorian(item.timestamp);
  return kv([["Webhook", hookLabel], ["Event", eventName(item.hook_event)], ["Event id", item.event_id], ["When", `${isoDay(when)} ${clock(when)}`],
    ["Try", item.try], ["Retries left", item.retries_left], ["Duration", typeof item.duration_ms === "number" ? `${item.duration_ms} ms` : null]]);
}

function response(item) {
  if (item.client_error) {
    return h("p", { class: "notice" }, "No response: ", item.cause || "", " ", h("code", {}, item.client_error));
  }
  return [kv([["Status", item.resp_status_code || item.response_code]]),
    h("h4", {}, "Headers"), headerTable(item.resp_headers),
    h("h4", {}, "Body"), bodyBlock(item.resp_body, item.resp_headers)];
}

export function showAttempt(item, hookLabel) {
  openDialog("Attempt details", (body, close) => {
    append(body,
      h("p", { class: `attempt-result ${item.result === "success" ? "ok" : "failed"}` },
        item.result === "success" ? "Delivered" : "Failed", ": ", resultText(item)),
      summary(item, hookLabel),
      h("h3", {}, "Request"),
      kv([["Method", String(item.method || "").toUpperCase()], ["URL", h("code", {}, item.uri || "")]]),
      h("h4", {}, "Headers"), headerTable(item.req_headers),
      h("h4", {}, "Body"), bodyBlock(item.req_body, item.req_headers),
      h("h3", {}, "Response"),
      response(item),
      h("details", {}, h("summary", {}, "Raw attempt (JSON)"),
        h("pre", { class: "json" }, JSON.stringify(item, null, 2))),
      h("div", { class: "dialog-actions" },
        copyButton("Copy as curl", "The curl command", () => curlCommand(item)),
        h("button", { type: "button", onclick: close, "data-autofocus": true }, "Close")));
  });
}
