/**
 * Who the telemetry is about: the resource on every metric, span and log record, and the agent's
 * version on its instrumentation scope.
 *
 * The attributes are those the SDK's own detectors give an app, minus anything that can carry a
 * secret: the SDK's process detector also reports the command line (`process.command_args`, where
 * tokens and passwords passed as arguments end up), the executable path and the user; none of
 * those, and nothing from the environment, is read here. Everything is read synchronously at
 * start (a hostname call and three small files), so the first scrape already has all of it.
 */
import { readFileSync } from 'node:fs';
import { arch, hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Attributes } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';

/**
 * The SDK's default resource (`telemetry.sdk.*`, and `service.name` `unknown_service:<argv0>`
 * as the SDK gives an app that names no service), host, process runtime and container
 * attributes, a `service.instance.id` per process, then `OTEL_RESOURCE_ATTRIBUTES` and
 * `OTEL_SERVICE_NAME` over all of it (the SDK's envDetector reads them), so what an operator sets
 * always wins. `extra` (the cluster worker's id) goes under the variables too.
 */
export function buildResource(extra: Attributes = {}): Resource {
  const res = require('@opentelemetry/resources') as typeof import('@opentelemetry/resources');
  const base = res.defaultResource().merge(res.resourceFromAttributes({ ...detectedAttributes(), ...extra }));
  return base.merge(res.detectResources({ detectors: [res.envDetector] }));
}

/** Host, process and container attributes (semantic conventions 1.x names); never throws. */
export function detectedAttributes(): Attributes {
  const attributes: Attributes = {
    'service.instance.id': randomUUID(),
    'host.name': safeString(hostname),
    'host.arch': HOST_ARCH[arch()] ?? arch(),
    'process.pid': process.pid,
    'process.runtime.name': 'nodejs',
    'process.runtime.version': process.versions.node,
    'process.runtime.description': 'Node.js',
  };
  const hostId = firstLine('/etc/machine-id') ?? firstLine('/var/lib/dbus/machine-id');
  if (hostId) attributes['host.id'] = hostId;
  const containerId = containerIdFrom(readText('/proc/self/cgroup'), readText('/proc/self/mountinfo'));
  if (containerId) attributes['container.id'] = containerId;
  for (const key of Object.keys(attributes)) if (attributes[key] === undefined) delete attributes[key];
  return attributes;
}

/** `host.arch` values of the semantic conventions for Node's `os.arch()` names. */
const HOST_ARCH: Readonly<Record<string, string>> = { x64: 'amd64', arm64: 'arm64', ia32: 'x86', arm: 'arm32', ppc64: 'ppc64', s390x: 's390x' };

/** A container id: 64 hex digits, as Docker, containerd, CRI-O and Podman name containers. */
const CONTAINER_ID = /(?:^|[^0-9a-f])([0-9a-f]{64})(?:[^0-9a-f]|$)/;

/**
 * The container id from this process's cgroup paths (cgroup v1, and v2 under Docker's and
 * Kubernetes' cgroup drivers: `.../docker-<id>.scope`, `.../cri-containerd-<id>.scope`,
 * `/docker/<id>`), else from the mount table (cgroup v2 with a private cgroup namespace, where
 * the path is just `/`: Docker bind-mounts `/etc/hostname` and friends from
 * `/var/lib/docker/containers/<id>/`, CRI-O from `.../overlay-containers/<id>/userdata/`). The
 * last id on a cgroup line is the container's own (an earlier one may be a pod's).
 */
export function containerIdFrom(cgroup: string | undefined, mountinfo: string | undefined): string | undefined {
  for (const line of (cgroup ?? '').split('\n')) {
    const path = line.slice(line.lastIndexOf(':') + 1);
    const id = lastId(path.split('/'));
    if (id) return id;
  }
  return mountinfo?.match(/containers\/([0-9a-f]{64})\//)?.[1];
}

function lastId(segments: string[]): string | undefined {
  for (let i = segments.length - 1; i >= 0; i--) {
    const m = segments[i]!.match(CONTAINER_ID);
    if (m) return m[1];
  }
  return undefined;
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function firstLine(file: string): string | undefined {
  const line = readText(file)?.split('\n')[0]?.trim();
  return line ? line : undefined;
}

function safeString(read: () => string): string | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}

/** The agent's own version, for the scope (`otel_scope_version`); undefined if unreadable. */
export function agentVersion(): string | undefined {
  try {
    // From dist/telemetry/ (and src/telemetry/ under the tests), the package root is two up.
    const pkg = require('../../package.json') as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : undefined;
  } catch {
    return undefined;
  }
}
