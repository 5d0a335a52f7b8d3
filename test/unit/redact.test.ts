import { describe, expect, it } from 'vitest';
import { redactSecrets, redactUrl } from '../../src/redact';

describe('redactSecrets', () => {
  it.each([
    ['connect to http://user:pw1234@host:4318/v1 failed', 'connect to http://<redacted>@host:4318/v1 failed'],
    ['https://tok3n@h/x', 'https://<redacted>@h/x'],
    ['endpoint svc:s3cret@collector:4317 is bad', 'endpoint <redacted>@collector:4317 is bad'],
    ['header Authorization: Bearer abcdef123', 'header Authorization: <redacted> <redacted>'],
    ['api-key=xyz123,tenant=a', 'api-key=<redacted>,tenant=a'],
    ['x-api-key: "k-123"', 'x-api-key: "<redacted>"'],
    ['?access_token=abc&x=1', '?access_token=<redacted>&x=1'],
  ])('%j -> %j', (text, expected) => {
    expect(redactSecrets(text)).toBe(expected);
  });

  it.each([
    'oomguard: OOMGUARD_POLL_INTERVAL="fast": a duration needs a unit',
    '{"name":"oomguard.warning","level":"warn","heapSignal":123,"thresholds":{"heap":{"warn":1}}}',
    'oomguard: metrics endpoint off: cannot listen on 127.0.0.1:9465 (EADDRINUSE)',
    'mail ops@example.org',
  ])('leaves %j alone', (text) => {
    expect(redactSecrets(text)).toBe(text);
  });
});

describe('redactUrl', () => {
  it.each([
    ['https://u:p@collector:4318/v1/traces?api_key=1#x', 'https://collector:4318/v1/traces (<redacted>: user information, query, fragment)'],
    ['http://collector:4318', 'http://collector:4318/'],
    ['user:token@collector:4317', '<redacted> (not an http(s) URL)'],
    ['grpc://collector:4317', '<redacted> (not an http(s) URL)'],
    ['not a url', '<redacted> (not an http(s) URL)'],
  ])('%j -> %j', (url, shown) => {
    expect(redactUrl(url)).toBe(shown);
  });
});
