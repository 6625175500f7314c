# lpm image: one CLI for the agent and the extender (`lpm agent`, `lpm extender`).
#   docker build -t lpm:0.1.0 .
# The manifests run it as uid 1000 (the image's `node` user) without any capability (the
# "restricted" Pod Security level): the agent's ping uses unprivileged ICMP sockets, which the
# pod's net.ipv4.ping_group_range sysctl opens to its group.

# --- build: compile TypeScript to dist/ ---
# tsconfig.image.json compiles the product only (src, cli, agent, extender, scenarios): the bench
# and the tests are development tools, left out of the context (.dockerignore) and of the image.
# test/integration/image-build.test.ts replays this stage and lays out the runtime stage without docker.
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json tsconfig.image.json ./
COPY src ./src
COPY cli ./cli
COPY agent ./agent
COPY extender ./extender
COPY scenarios ./scenarios
RUN npx tsc -p tsconfig.image.json

# --- runtime: production dependencies, the compiled CLI, ping and iperf3 ---
FROM node:20-bookworm-slim
ENV NODE_ENV=production
# ping needs no privilege: it sends echo requests over an unprivileged ICMP socket, allowed by
# net.ipv4.ping_group_range (the agent pod sets it; Docker's default covers every group too).
# Debian's iputils-ping install gives /usr/bin/ping the file capability cap_net_raw+ep (or, without
# setcap, the setuid bit): both are removed and checked gone. A binary with an *effective* file
# capability that the bounding set lacks cannot even be executed (EPERM), and the agent container
# drops ALL capabilities. libcap2-bin (setcap, getcap) is a dependency of iputils-ping anyway.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends iputils-ping iperf3 libcap2-bin \
 && { setcap -r /usr/bin/ping 2>/dev/null || true; } \
 && chmod u-s /usr/bin/ping \
 && test -z "$(getcap /usr/bin/ping)" \
 && test ! -u /usr/bin/ping \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /src/dist ./dist
COPY bin ./bin
# the extender's web page is a static file served from the package, not compiled by tsc
COPY extender/web ./extender/web
USER node
# agent /metrics (9105; 8090 with an original LPM config), iperf3 servers (5201 TCP, 5202 UDP), extender (8888)
EXPOSE 9105 8090 5201 5202/udp 8888
ENTRYPOINT ["node", "bin/lpm.js"]
CMD ["--help"]
