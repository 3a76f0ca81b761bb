// Kazoo's clock (Gregorian seconds) and the day strings of <input type="date">.

const GREGORIAN_OFFSET = 62167219200; // seconds from 0000-01-01 to 1970-01-01
export const DAY_MS = 86400000;

export const toGregorian = (ms) => Math.floor(ms / 1000) + GREGORIAN_OFFSET;
export const fromGregorian = (seconds) => new Date((seconds - GREGORIAN_OFFSET) * 1000);
const pad = (n) => String(n).padStart(2, "0");
export const isoDay = (d) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
/** The browser's zone as a short name ("GMT+9", "UTC", "CET"): a time without it is ambiguous. */
export function zoneName(d) {
  const part = new Intl.DateTimeFormat("en-US", { timeZoneName: "short" }).formatToParts(d)
    .find((p) => p.type === "timeZoneName");
  return part ? part.value : "UTC";
}
export const clock = (d) => `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${zoneName(d)}`;

/** "2024-05-31" as local midnight, or the day's last second; null when not a date. */
export function parseDay(value, endOfDay) {
  const [y, m, d] = value.split("-").map(Number);
  if (!y || !m || !d) return null;
  return endOfDay ? new Date(y, m - 1, d, 23, 59, 59) : new Date(y, m - 1, d, 0, 0, 0);
}
