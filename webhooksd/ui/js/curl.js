// An attempt as a curl command that repeats the request: method, URL (a GET hook's query
// included, from the attempt's req_url), headers as recorded and the body exactly as sent.
//
// Secrets: the attempt record is redacted (the signature, credential-looking headers and
// query values, a URL's password show as <redacted>), and the command is built from that
// record only, so it shows nothing the attempt dialog does not; a comment in the command
// names what was redacted, since the receiver will see <redacted> instead.

const REDACTED = "<redacted>";
// headers curl computes from what it sends: copying the recorded ones would be wrong
const COMPUTED = new Set(["content-length", "host", "transfer-encoding", "connection"]);

/** One word for a POSIX shell: single quotes, each ' written as '\'' (close, escaped
 * quote, reopen); nothing inside single quotes is special to the shell. */
export function shellQuote(text) {
  return `'${String(text).replace(/'/g, "'\\''")}'`;
}

/** `-H` for one header; an empty value is `Name;` (curl drops a header given as `Name:`). */
function headerArg(name, value) {
  const text = String(value);
  return `-H ${shellQuote(text === "" ? `${name};` : `${name}: ${text}`)}`;
}

function redactedNames(item, url) {
  const names = Object.entries(item.req_headers || {})
    .filter(([, v]) => String(v).includes(REDACTED)).map(([k]) => k);
  if (url.includes(REDACTED)) names.push("parts of the URL");
  return names;
}

/** The command (a comment line first when something was redacted). */
export function curlCommand(item) {
  const url = item.req_url || item.uri || "";
  const method = String(item.method || "post").toUpperCase();
  // -g: a URL's [ ] { } are not curl's globbing; -sS: quiet but say what went wrong
  const words = ["curl -sS -g", `-X ${shellQuote(method)}`];
  for (const [name, value] of Object.entries(item.req_headers || {})) {
    if (!COMPUTED.has(name.toLowerCase())) words.push(headerArg(name, value));
  }
  // --data-raw: a body starting with @ is text, never a file for curl to read and send
  if (item.req_body) words.push(`--data-raw ${shellQuote(item.req_body)}`);
  words.push(shellQuote(url));
  const command = words.join(" \\\n  ");
  const redacted = redactedNames(item, url);
  if (!redacted.length) return command;
  return `# redacted in the attempt record, so sent as ${REDACTED}: ${redacted.join(", ")}\n${command}`;
}
