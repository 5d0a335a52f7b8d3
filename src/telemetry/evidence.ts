/**
 * The shutdown's evidence as span and log attributes: the top allocation site in fields a query
 * can filter on, every top site as one readable line, growth by kind in bytes, and the headline
 * (the log record's body carries it too). Under `oomguard.evidence.*`, documented in
 * docs/metrics.md with the other event attributes; absent on events that carry no evidence.
 */
import type { Attributes } from '@opentelemetry/api';
import type { ShutdownEvidence } from '../evidence/report';
import { headline } from '../evidence/report';
import { siteText } from '../evidence/summary';
import { formatBytes } from '../units';

export const ATTR_EVIDENCE_SUMMARY = 'oomguard.evidence.summary';
export const ATTR_TOP_SITE_FUNCTION = 'oomguard.evidence.top_site.function';
export const ATTR_TOP_SITE_FILE = 'oomguard.evidence.top_site.file';
export const ATTR_TOP_SITE_LINE = 'oomguard.evidence.top_site.line';
export const ATTR_TOP_SITE_COLUMN = 'oomguard.evidence.top_site.column';
export const ATTR_TOP_SITE_BYTES = 'oomguard.evidence.top_site.bytes';
export const ATTR_TOP_SITE_SHARE = 'oomguard.evidence.top_site.share';
/** Every top site, heaviest first, as `62.0% 96.3MiB fn (file:line:column)`. */
export const ATTR_TOP_SITES = 'oomguard.evidence.top_sites';
export const ATTR_SAMPLED_BYTES = 'oomguard.evidence.sampled_bytes';
export const ATTR_SITES_SKIPPED = 'oomguard.evidence.sites_skipped';
export const ATTR_GREW_MOST = 'oomguard.evidence.grew_most';
export const ATTR_GROWTH_SINCE = 'oomguard.evidence.growth.since';
export const ATTR_GROWTH_SECONDS = 'oomguard.evidence.growth.seconds';
/** `oomguard.evidence.growth.<kind>` in bytes: `heap`, `array_buffers`, `external`, `native`, `rss`. */
export const ATTR_GROWTH_PREFIX = 'oomguard.evidence.growth.';
export const ATTR_PROFILE = 'oomguard.evidence.profile';

/** The attributes of `evidence` (none when it is undefined). */
export function evidenceAttributes(evidence: ShutdownEvidence | undefined): Attributes {
  if (!evidence) return {};
  const out: Attributes = {};
  const summary = headline(evidence);
  if (summary) out[ATTR_EVIDENCE_SUMMARY] = summary;
  const top = evidence.topSites[0];
  if (top) {
    out[ATTR_TOP_SITE_FUNCTION] = top.function;
    out[ATTR_TOP_SITE_FILE] = top.file;
    out[ATTR_TOP_SITE_LINE] = top.line;
    out[ATTR_TOP_SITE_COLUMN] = top.column;
    out[ATTR_TOP_SITE_BYTES] = top.bytes;
    out[ATTR_TOP_SITE_SHARE] = top.share;
    out[ATTR_TOP_SITES] = evidence.topSites.map((s) => `${(s.share * 100).toFixed(1)}% ${formatBytes(s.bytes)} ${siteText(s)}`);
    out[ATTR_SAMPLED_BYTES] = evidence.sampledBytes;
  }
  if (evidence.sitesSkipped) out[ATTR_SITES_SKIPPED] = evidence.sitesSkipped;
  const g = evidence.growth;
  if (g) {
    if (g.grewMost) out[ATTR_GREW_MOST] = g.grewMost === 'arrayBuffers' ? 'array_buffers' : g.grewMost;
    out[ATTR_GROWTH_SINCE] = g.since;
    out[ATTR_GROWTH_SECONDS] = g.seconds;
    out[`${ATTR_GROWTH_PREFIX}heap`] = g.heap;
    out[`${ATTR_GROWTH_PREFIX}array_buffers`] = g.arrayBuffers;
    out[`${ATTR_GROWTH_PREFIX}external`] = g.external;
    out[`${ATTR_GROWTH_PREFIX}native`] = g.native;
    out[`${ATTR_GROWTH_PREFIX}rss`] = g.rss;
  }
  if (evidence.profile) out[ATTR_PROFILE] = evidence.profile;
  return out;
}
