# syntax=docker/dockerfile:1
# The demo app image: oomguard built from this repository, installed the way a user installs it
# (an npm package tarball), and preloaded with `--require oomguard/register`.
# docker-compose.yml builds it; by hand: docker build -t oomguard-demo .

FROM node:20.20.2-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts ./scripts
COPY src ./src
# --ignore-scripts: prepack would build a second time.
RUN npm run build && npm pack --ignore-scripts --pack-destination /tmp

FROM node:20.20.2-bookworm-slim
ENV NODE_ENV=production
WORKDIR /srv
COPY --from=build /tmp/oomguard-*.tgz /tmp/
RUN npm init -y >/dev/null \
 && npm install --omit=dev --no-audit --no-fund /tmp/oomguard-*.tgz \
 && rm /tmp/oomguard-*.tgz
COPY demo ./demo
USER node
# 9464: the agent's Prometheus endpoint; 3000: the demo's HTTP port.
EXPOSE 3000 9464
CMD ["node", "--require", "oomguard/register", "demo/app.mjs"]
