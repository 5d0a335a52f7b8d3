# syntax=docker/dockerfile:1
# The demo app image: oomguard built from this repository, installed the way a user installs it
# (an npm package tarball), and preloaded with `--require oomguard/register`.
# docker-compose.yml builds it; by hand: docker build -t oomguard-demo .
#
# Runtime layout (test/e2e/operator-image.test.ts reproduces it with real processes: same uid,
# same directories and modes, same command): /srv holds the code and belongs to root, read-only
# for the app; the app runs as the image's `node` user (uid 1000) and writes only to /srv/data,
# the one directory it owns (DEMO_LOG points there). Mount a volume on /srv/data to keep it.

FROM node:22.23.5-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts ./scripts
COPY src ./src
# --ignore-scripts: prepack would build a second time.
RUN npm run build && npm pack --ignore-scripts --pack-destination /tmp

FROM node:22.23.5-bookworm-slim
ENV NODE_ENV=production
WORKDIR /srv
COPY --from=build /tmp/oomguard-*.tgz /tmp/
RUN npm init -y >/dev/null \
 && npm install --omit=dev --no-audit --no-fund /tmp/oomguard-*.tgz \
 && rm /tmp/oomguard-*.tgz
COPY demo ./demo
RUN install -d -o node -g node -m 0755 /srv/data
ENV DEMO_LOG=/srv/data/requests.log
USER node
# 9465: the agent's Prometheus endpoint; 3000: the demo's HTTP port.
EXPOSE 3000 9465
# Healthy once the guard has taken a reading and is not shutting down (not just "port open").
HEALTHCHECK --interval=10s --timeout=5s --start-period=15s --retries=3 CMD ["node", "demo/healthcheck.mjs"]
CMD ["node", "--require", "oomguard/register", "demo/app.mjs"]
