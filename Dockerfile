# syntax=docker/dockerfile:1
# Multi-stage build: compile TypeScript with dev dependencies, ship only the compiled
# code and production dependencies on a slim Node image, as a non-root user.

FROM node:22-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY cmd ./cmd
COPY src ./src
RUN npm run build

FROM node:22-bookworm-slim AS runtime
ENV NODE_ENV=production \
    DATA_DIR=/var/lib/coroot-event-recorder
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /src/dist ./dist
COPY src/events/event.schema.json ./src/events/event.schema.json
COPY config/recorder.yaml /etc/coroot-event-recorder/recorder.yaml
# The image writes only to the data volume, so it runs with a read-only root filesystem.
RUN mkdir -p /var/lib/coroot-event-recorder && chown node:node /var/lib/coroot-event-recorder
VOLUME ["/var/lib/coroot-event-recorder"]
USER node
EXPOSE 9880
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9880/-/healthy').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "/app/dist/cmd/coroot-event-recorder.js"]
CMD ["--config", "/etc/coroot-event-recorder/recorder.yaml", "--listen-address", "0.0.0.0:9880"]
