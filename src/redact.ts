/**
 * Keeping credentials out of what the agent prints. The preload runs in every process that
 * `NODE_OPTIONS` reaches, and each of them writes to a stderr that ends up in log pipelines, so
 * the agent never echoes a value that may carry a credential: an endpoint is shown without its
 * user, password, query or fragment, and a value it cannot parse is named, not quoted, where it
 * may hold one (unknown `OOMGUARD_*` variables, OTLP endpoints and headers).
 */

/** What a message shows instead of a value that may carry a credential. */
export const REDACTED = '<redacted>';

/** `scheme://user:password@` and `scheme://token@` */
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@]+@/gi;
/** `user:password@host` without a scheme */
const BARE_USERINFO = /(^|[\s"'=(])[^\s/?#@:"'=(]+:[^\s/?#@]+@(?=[\w[])/g;
/** `Bearer abc...`, `Basic dXNl...` */
const AUTH_SCHEME = /\b(bearer|basic|token)(\s+)[A-Za-z0-9._~+/=-]{4,}/gi;
/** `authorization=...`, `api-key: ...`, `access_token=...`: a header or parameter whose name says secret */
const SECRET_PAIR = /\b([\w-]*(?:authorization|api[-_]?key|token|secret|password|passwd)[\w-]*)(\s*[=:]\s*)("?)[^\s,;&"]+/gi;

/**
 * `text` with what looks like a credential replaced by {@link REDACTED}: the user information
 * of URLs, `Bearer`/`Basic` tokens, and values of pairs whose name says secret. A last line of
 * defence for lines quoting a library's error; the agent's own messages never quote such values.
 */
export function redactSecrets(text: string): string {
  if (!text.includes('@') && !/bearer|basic|token|authorization|key|secret|passw/i.test(text)) return text;
  return text
    .replace(URL_USERINFO, `$1${REDACTED}@`)
    .replace(BARE_USERINFO, `$1${REDACTED}@`)
    .replace(AUTH_SCHEME, `$1$2${REDACTED}`)
    .replace(SECRET_PAIR, `$1$2$3${REDACTED}`);
}

/**
 * An endpoint as `oomguard doctor` shows it: scheme, host, port and path only, so it can be
 * checked against the collector without printing what authenticates to it. Anything but an
 * http(s) URL with a host is not shown at all: `user:token@collector:4317` parses as a URL of
 * scheme `user:` whose path is the token.
 */
export function redactUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    return `${REDACTED} (not an http(s) URL)`;
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.host === '') return `${REDACTED} (not an http(s) URL)`;
  const hidden = url.username || url.password || url.search || url.hash ? ` (${REDACTED}: ${hiddenParts(url)})` : '';
  return `${url.protocol}//${url.host}${url.pathname}${hidden}`;
}

function hiddenParts(url: URL): string {
  const parts: string[] = [];
  if (url.username || url.password) parts.push('user information');
  if (url.search) parts.push('query');
  if (url.hash) parts.push('fragment');
  return parts.join(', ');
}
