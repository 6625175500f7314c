# lpm image: one CLI for the agent and the extender (`lpm agent`, `lpm extender`).
#   docker build -t lpm:0.1.0 .
# The manifests run it as uid 1000 (the image's `node` user); the agent Pod adds CAP_NET_RAW to
# the bounding set so ping's file capability works, and nothing else.

# --- build: compile TypeScript to dist/ ---
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY cli ./cli
COPY agent ./agent
COPY extender ./extender
COPY scenarios ./scenarios
RUN npm run build

# --- runtime: production dependencies, the compiled CLI, ping and iperf3 ---
FROM node:20-bookworm-slim
ENV NODE_ENV=production
# libcap2-bin provides setcap: ping gets cap_net_raw as a file capability (permitted set; ping
# raises it itself), so it runs as a non-root user. The Pod must allow NET_RAW (it does).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends iputils-ping iperf3 libcap2-bin \
 && setcap cap_net_raw+p /usr/bin/ping \
 && getcap /usr/bin/ping | grep -q cap_net_raw \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /src/dist ./dist
COPY bin ./bin
# the extender's web page is a static file served from the package, not compiled by tsc
COPY extender/web ./extender/web
USER node
# agent /metrics (9105), iperf3 server (5201), extender (8888)
EXPOSE 9105 5201 8888
ENTRYPOINT ["node", "bin/lpm.js"]
CMD ["--help"]
