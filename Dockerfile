# syntax=docker/dockerfile:1
# coroot-event-recorder: a small production image.
# Stage 1 compiles TypeScript with the dev dependencies; stage 2 ships only the compiled
# code and the production dependencies on Node 26 LTS slim (Debian trixie), the production
# runtime, as a non-root user, writing only to the data volume (so it runs with
# readOnlyRootFilesystem: true). CI runs the suite on Node 26 as well as on the engines floor.
#   docker build -t coroot-event-recorder .
#   docker run -p 9880:9880 -v recorder-data:/var/lib/coroot-event-recorder coroot-event-recorder
# Checked in CI by test/ops/dockerfile.test.ts (dockerfile-utils lint + required properties).

FROM node:26-trixie-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY cmd ./cmd
COPY src ./src
RUN npm run build

FROM node:26-trixie-slim AS runtime
ENV NODE_ENV=production \
    DATA_DIR=/var/lib/coroot-event-recorder
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /src/dist ./dist
# The event contract, for consumers that want it from the image.
COPY src/events/event.schema.json ./src/events/event.schema.json
# The default config writes ${DATA_DIR}/events.jsonl; mount your own over this folder
# (Kubernetes: a ConfigMap, see config/kubernetes/).
COPY config/recorder.yaml /etc/coroot-event-recorder/recorder.yaml
RUN mkdir -p /var/lib/coroot-event-recorder && chown 1000:1000 /var/lib/coroot-event-recorder
VOLUME ["/var/lib/coroot-event-recorder"]
# uid/gid 1000 is the image's "node" user; numeric so Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
EXPOSE 9880
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9880/-/healthy').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "/app/dist/cmd/coroot-event-recorder.js"]
CMD ["--config", "/etc/coroot-event-recorder/recorder.yaml", "--listen-address", "0.0.0.0:9880"]
