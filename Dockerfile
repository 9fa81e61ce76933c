# One image for the API server and the worker (docs/deployment.md):
#   API server (default): node dist/src/main.js
#   worker:               node dist/src/workers/main.js
#   migrations:           node dist/scripts/migrate.js   (once per release, before the new processes start)
#   CLI:                  node dist/src/cli.js tenant:create --name Acme
# test/platform/build.test.ts runs the same steps (build, production install, start) on every test run.
ARG NODE_IMAGE=node:20-bookworm-slim

# ── build: every dependency, the Prisma client, tsc ──
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# No dependency's install script is needed (nothing may rely on one; Prisma's would download native
# engines we do not use: the client runs on the pg driver adapter).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json prisma.config.ts ./
COPY prisma ./prisma
COPY scripts ./scripts
COPY src ./src
COPY tools/evolution-simulator ./tools/evolution-simulator
RUN npm run build

# ── runtime: production dependencies and the compiled output only ──
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=4000
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY prisma/migrations ./prisma/migrations
# The node image's unprivileged user; nothing in /app is writable by it.
USER node
EXPOSE 4000
# The API server's liveness. The worker has no HTTP port: its container disables this check, and the
# API's /ready and /health/workers report live workers (docker-compose.yml).
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||4000)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/src/main.js"]
