// @ts-check
// Numbers and times as the dashboard shows them; "—" for anything the server did not give.

/**
 * @param {unknown} value
 * @param {number} digits
 */
export function fixed(value, digits) {
  return typeof value === "number" && Number.isFinite(value) ? value.toFixed(digits) : "—";
}

/** @param {unknown} score  0..1 */
export function percent(score) {
  return typeof score === "number" && Number.isFinite(score) ? `${Math.round(score * 100)}%` : "—";
}

/** @param {unknown} mb */
export function megabytes(mb) {
  if (typeof mb !== "number" || !Number.isFinite(mb)) return "—";
  if (mb >= 1024 * 1024) return `${(mb / (1024 * 1024)).toFixed(1)} TB`;
  if (mb >= 1024) return `${(mb / 1024).toFixed(1)} GB`;
  return `${mb < 10 ? mb.toFixed(1) : Math.round(mb)} MB`;
}

/** @param {unknown} seconds */
export function duration(seconds) {
  if (typeof seconds !== "number" || !Number.isFinite(seconds) || seconds < 0) return "—";
  const s = Math.floor(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/**
 * The time only for today, the date too otherwise; unparseable text is shown as it came.
 * @param {string} iso
 */
export function localTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  const today = date.toDateString() === new Date().toDateString();
  return today ? date.toLocaleTimeString() : date.toLocaleString();
}
