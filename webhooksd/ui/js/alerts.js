// Where the account is told that the server disabled one of its webhooks, and that one
// delivers again: e-mail addresses and a signed POST to an alert URL
// (GET and POST /v2/accounts/{A}/webhooks/alerts). Every setting is on the form, so the POST,
// which replaces the settings, never drops one the page did not show.
import { ApiError, accountPath, api, isUnauthorized } from "./api.js";
import { h } from "./dom.js";
import { clearFieldErrors, field, fieldError, textarea } from "./form-fields.js";
import { showError, toast } from "./messages.js";

const MAX_EMAILS = 10;
const alertsPath = () => accountPath("/webhooks/alerts");

export async function alertsView() {
  const { data } = await api("GET", alertsPath());
  const controls = {
    emails: textarea("emails", (data.emails || []).join("\n"), 3),
    url: h("input", { name: "url", type: "url", value: data.url || "", maxlength: 2048,
      placeholder: "https://alerts.example.com/webhooksd" }),
    secret: h("input", { name: "secret", type: "text", value: data.secret || "", autocomplete: "off",
      spellcheck: "false" }),
  };
  const summary = h("div", { class: "form-error", role: "alert", hidden: true });
  const form = h("form", { class: "hook-form", novalidate: true },
    summary,
    h("fieldset", {}, h("legend", {}, "E-mail"),
      data.email_enabled ? null : h("p", { class: "notice" },
        "This server has no SMTP server configured (smtp_host): the addresses are kept, but no e-mail is sent."),
      field("emails", `Addresses (one a line, at most ${MAX_EMAILS})`, controls.emails)),
    h("fieldset", {}, h("legend", {}, "Alert URL"),
      field("url", "Alert URL", controls.url,
        "Gets a JSON POST of each webhook.disabled and webhook.recovered event."),
      field("secret", "Alert signing secret", controls.secret,
        "Signs the POSTs as webhook deliveries are signed (Standard Webhooks). Shown masked; left alone it is kept.")),
    h("div", { class: "form-actions" },
      h("button", { type: "submit", class: "primary" }, "Save alert settings"),
      h("a", { class: "button", href: "#/hooks" }, "Cancel")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    save(form, summary, controls);
  });
  return h("section", {},
    h("div", { class: "page-head" }, h("h1", {}, "Alerts"),
      h("p", { class: "hint" },
        "When the server disables a webhook (too many failed attempts, or a 410 Gone), and when one it disabled "
        + "delivers again after being re-enabled, this account is told here as well as by Kazoo's "
        + "webhook_disabled notification. At most one alert per webhook per interval.")),
    form);
}

async function save(form, summary, { emails, url, secret }) {
  clearFieldErrors(form, summary);
  const doc = { emails: emails.value.split(/[\n,]/).map((s) => s.trim()).filter(Boolean) };
  if (url.value.trim()) doc.url = url.value.trim();
  if (secret.value.trim()) doc.secret = secret.value.trim();
  try {
    const { data } = await api("POST", alertsPath(), { data: doc });
    secret.value = data.secret || "";
    toast("Alert settings saved.");
  } catch (err) {
    if (isUnauthorized(err)) return;
    if (!(err instanceof ApiError) || err.status !== 400) {
      showError(err, "Saving the alert settings");
      return;
    }
    for (const [path, message] of Object.entries(err.fieldErrors)) fieldError(form, path, message);
    summary.textContent = "Please correct the highlighted fields.";
    summary.hidden = false;
  }
}
