# syntax=docker/dockerfile:1
# edgewatch as a container: the appliance, its built and verified models and the Coral runtime.
#
#   docker build -t edgewatch .                                            # Coral runtime libedgetpu1-std
#   docker build --build-arg LIBEDGETPU=libedgetpu1-max -t edgewatch .     # max clock: the USB stick runs hot
#   docker build --build-arg CORAL=no -t edgewatch .                       # CPU detection only
#   docker build --build-arg OPENVINO=no -t edgewatch .                    # x86_64 without OpenVINO (-180 MB)
#
# Build arguments:
#   BASE_IMAGE  the image every stage starts from (default python:3.11-slim-bookworm); any Debian
#               bookworm with python3, python3-venv and ca-certificates will do (only `python3` is
#               called, and the venv's own python after that).
#   MODELS      build (default): the models are built here from their sources, tensorflow in the
#               models-build stage only (a few minutes; a models/build left in the context is never
#               read). context: the models already built by `bash models/build.sh`, taken from
#               the context's models/build/ (*.tflite and SHA256SUMS only, see .dockerignore) and
#               checked with `sha256sum --strict -c SHA256SUMS` as they land; no tensorflow at all.
#   CORAL       yes (default) or no. With yes, Coral's key and runtime come from
#               packages.cloud.google.com; when that is unreachable the build still succeeds, with
#               a WARNING that the image has no Coral runtime and detects on the CPU (kept in the
#               image too: /opt/edgewatch/build-warnings). A key with another fingerprint than the
#               pinned one still fails the build.
#   LIBEDGETPU  libedgetpu1-std (default) or libedgetpu1-max.
#   OPENVINO    yes (default) or no. With yes, an x86_64 image also gets the OpenVINO backend
#               (detector.type: openvino) from deploy/requirements-openvino.lock, hash-pinned like the
#               rest and installed with --no-deps (never openvino-telemetry, with which importing
#               OpenVINO sends usage data to Intel); an arm64 image never gets it. An Intel GPU
#               (device: GPU) also needs the host's /dev/dri/renderD128 passed in (--device,
#               --group-add the render group) and Intel's compute runtime (intel-opencl-icd), which
#               this image does not carry.
#
# Without a container registry, from Debian's packages only (podman; the Debian mirror and PyPI
# are all the build needs with MODELS=context, plus the npm registry with MODELS=build):
#
#   sudo bash deploy/container/base.sh        # debootstrap → podman import: localhost/edgewatch-base:bookworm
#   sudo podman build --format docker --build-arg BASE_IMAGE=localhost/edgewatch-base:bookworm \
#     --build-arg MODELS=context -t edgewatch .
#
# `--format docker` is required with podman: its default, the OCI image format, has no HEALTHCHECK,
# and podman drops it with nothing but a warning. To publish a port (-p), rootful podman's default
# network (netavark) needs iptables, which Debian's podman only suggests: apt-get install iptables.
# The run flags below are the same for `podman run`; podman runs the HEALTHCHECK from systemd
# timers, and `podman healthcheck run edgewatch` runs it once. tests/deploy/test_container.py
# does all of this for real (pytest -m image).
#
# The build needs network access (PyPI for the app's dependencies and, with MODELS=build,
# tensorflow; Coral's apt repository); the image never downloads anything at run time. The app's
# Python dependencies come from deploy/requirements.lock with --require-hashes, and Coral's key is
# taken only if its fingerprint is the one pinned in deploy/install.sh. (The base image is not
# pinned by digest: build it from Debian's packages as above to know what is in it.)
#
# Run it (the image is made for a read-only root filesystem; deploy/compose.yaml does all this):
#
#   docker run -d --name edgewatch --restart unless-stopped \
#     --read-only --tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges:true \
#     -v edgewatch-state:/var/lib/edgewatch \
#     -v /etc/edgewatch/config.yaml:/etc/edgewatch/config.yaml:ro \
#     -p 8080:8080 --stop-timeout 45 \
#     <Coral access, below> edgewatch
#
# Coral access — NEVER --privileged (it hands the container every device and capability):
#   USB Accelerator, simple: --device /dev/bus/usb --group-add "$(getent group plugdev | cut -d: -f3)"
#     The device nodes are copied at container start. The Coral re-enumerates (1a6e:089a becomes
#     18d1:9302) when its firmware is loaded, and again after a replug, which makes a new node the
#     container does not have until it is restarted (the restart policy does that).
#   USB Accelerator, survives re-enumeration and replugs:
#     -v /dev/bus/usb:/dev/bus/usb --device-cgroup-rule 'c 189:* rmw' --group-add <plugdev gid>
#     (189 is the USB device major: access to USB device nodes only, as the systemd unit's
#     DeviceAllow=char-usb_device; the host's udev rule systemd/99-edgewatch-coral.rules keeps
#     the Coral's nodes 0660 root:plugdev, so the container user reaches them through the group).
#   PCIe / M.2 Accelerator: --device /dev/apex_0 --group-add "$(stat -c %g /dev/apex_0)"
#     (the host needs the gasket/apex driver and the udev rule).
#   Cameras on V4L2: --device /dev/video0 --group-add "$(getent group video | cut -d: -f3)".
#
# The API listens on the port of api.listen (default 0.0.0.0:8080). Requests from outside
# api.allow get 403: with Docker's default NAT the LAN client's own address arrives, but clients
# coming through docker-proxy (e.g. IPv6 without ip6tables NAT) appear as the bridge gateway
# (a private address) — set "userland-proxy": false in /etc/docker/daemon.json, or use
# --network host, if that matters on your network.
#
# First boot: there is no default password. Run
#   docker exec -it edgewatch edgewatch passwd --config /etc/edgewatch/config.yaml
# or open http://<box>:8080/login with the one-time setup code from `docker logs edgewatch`.

ARG BASE_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------------------------------------
# models-build (MODELS=build, the default): the models built from their sources, tensorflow in
# its own virtualenv. Only the model sources are copied in: a models/build left in the build
# context is never used here (build.sh records the sha256 of what it builds in build/SHA256SUMS).
# With MODELS=context this stage does nothing and leaves /opt/edgewatch/models empty.
FROM ${BASE_IMAGE} AS models-build
ARG MODELS=build
WORKDIR /src
COPY models/manifest.toml models/build.sh models/build.py models/build_coco.py models/buildlib.py models/
COPY models/labels/ models/labels/
RUN set -eu; \
    install -d -m 0755 /opt/edgewatch/models; \
    case "$MODELS" in build) ;; context) exit 0 ;; *) echo "MODELS must be build or context, not '$MODELS'" >&2; exit 1 ;; esac; \
    EDGEWATCH_BUILD_CACHE=/tmp/model-build bash models/build.sh; \
    (cd models/build && sha256sum --strict -c SHA256SUMS); \
    install -d -m 0755 /opt/edgewatch/models/build /opt/edgewatch/models/labels; \
    install -m 0644 models/manifest.toml /opt/edgewatch/models/; \
    install -m 0644 models/labels/*.txt /opt/edgewatch/models/labels/; \
    install -m 0644 models/build/SHA256SUMS models/build/*.tflite /opt/edgewatch/models/build/; \
    rm -rf /tmp/model-build

# ---------------------------------------------------------------------------------------------
# models-context (MODELS=context): the models built beforehand (bash models/build.sh), from the
# build context, each file checked against SHA256SUMS as it lands. With MODELS=build the files
# copied in are not read, and /opt/edgewatch/models stays empty.
FROM ${BASE_IMAGE} AS models-context
ARG MODELS=build
COPY models/ /tmp/context/models/
RUN set -eu; \
    install -d -m 0755 /opt/edgewatch/models; \
    [ "$MODELS" = context ] || exit 0; \
    cd /tmp/context/models; \
    if [ ! -s build/SHA256SUMS ]; then \
      echo "MODELS=context: models/build/SHA256SUMS is not in the build context: build the models first (bash models/build.sh), or leave MODELS at build" >&2; \
      exit 1; \
    fi; \
    (cd build && sha256sum --strict -c SHA256SUMS); \
    install -d -m 0755 /opt/edgewatch/models/build /opt/edgewatch/models/labels; \
    install -m 0644 manifest.toml /opt/edgewatch/models/; \
    install -m 0644 labels/*.txt /opt/edgewatch/models/labels/; \
    install -m 0644 build/SHA256SUMS build/*.tflite /opt/edgewatch/models/build/

# ---------------------------------------------------------------------------------------------
# build: the appliance's virtualenv. Every dependency from deploy/requirements.lock, each checked
# against its sha256 (wheels only), then the app as a wheel built with the locked setuptools and
# wheel (no build isolation, which would fetch them again unchecked) and installed without
# dependencies.
FROM ${BASE_IMAGE} AS build
ARG OPENVINO=yes
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_NO_INPUT=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY deploy/requirements.lock deploy/requirements-openvino.lock deploy/
COPY app/ app/
RUN case "$OPENVINO" in yes|no) ;; *) echo "OPENVINO must be yes or no, not '$OPENVINO'" >&2; exit 1;; esac \
 && python3 -m venv /opt/edgewatch/venv \
 && /opt/edgewatch/venv/bin/pip install --require-hashes --only-binary=:all: -r deploy/requirements.lock \
 && if [ "$OPENVINO" = yes ] && [ "$(uname -m)" = x86_64 ]; then \
      /opt/edgewatch/venv/bin/pip install --no-deps --require-hashes --only-binary=:all: -r deploy/requirements-openvino.lock; \
    fi \
 && /opt/edgewatch/venv/bin/pip wheel --no-deps --no-build-isolation --no-index --wheel-dir /dist . \
 && /opt/edgewatch/venv/bin/pip install --no-deps --no-index /dist/edgewatch-*.whl \
 && /opt/edgewatch/venv/bin/edgewatch --version

# ---------------------------------------------------------------------------------------------
# coral-key: Coral's apt signing key, only if its fingerprint is the pinned one, as a binary
# keyring of that key alone (no curl or gpg in the runtime image). The check is the installer's
# own (trusted_keyring and CORAL_KEY_FINGERPRINT in deploy/install.sh, sourced, not run): a key
# with another fingerprint fails the build. When the key cannot be downloaded (no route to
# packages.cloud.google.com), or CORAL=no, the keyring is left empty and the runtime stage
# installs no Coral runtime.
FROM ${BASE_IMAGE} AS coral-key
ARG CORAL=yes
COPY deploy/install.sh /tmp/install.sh
RUN set -u; \
    : > /coral-edgetpu.gpg; \
    [ "$CORAL" = yes ] || exit 0; \
    if ! { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends curl gpg; }; then \
      echo "WARNING: apt could not install curl and gpg: Coral's signing key is not fetched" >&2; \
      exit 0; \
    fi; \
    if curl --fail --silent --show-error --location --proto '=https' --tlsv1.2 --connect-timeout 20 --max-time 60 \
      -o /tmp/apt-key.gpg https://packages.cloud.google.com/apt/doc/apt-key.gpg; then \
      bash -c '. /tmp/install.sh && trusted_keyring /tmp/apt-key.gpg "$CORAL_KEY_FINGERPRINT" /coral-edgetpu.gpg' || exit 1; \
    else \
      echo "WARNING: cannot download Coral's signing key from packages.cloud.google.com" >&2; \
    fi

# ---------------------------------------------------------------------------------------------
# runtime: Python, the venv, the verified models, libedgetpu (when Coral's repository could be
# reached with the verified key); runs as uid 10001. The build's warnings are kept in the image,
# in /opt/edgewatch/build-warnings (empty when there were none).
FROM ${BASE_IMAGE} AS runtime
ARG CORAL=yes
ARG LIBEDGETPU=libedgetpu1-std
COPY --from=coral-key /coral-edgetpu.gpg /usr/share/keyrings/coral-edgetpu.gpg
RUN set -eu; \
    case "$CORAL" in yes|no) ;; *) echo "CORAL must be yes or no" >&2; exit 1;; esac; \
    case "$LIBEDGETPU" in libedgetpu1-std|libedgetpu1-max) ;; *) echo "LIBEDGETPU must be libedgetpu1-std or libedgetpu1-max" >&2; exit 1;; esac; \
    install -d -m 0755 /opt/edgewatch; \
    : > /opt/edgewatch/build-warnings; \
    warn() { echo "WARNING: $*" | tee -a /opt/edgewatch/build-warnings >&2; }; \
    keyring=/usr/share/keyrings/coral-edgetpu.gpg; \
    list=/etc/apt/sources.list.d/coral-edgetpu.list; \
    coral=none; \
    if [ "$CORAL" = yes ] && [ -s "$keyring" ]; then \
      echo "deb [signed-by=$keyring] https://packages.cloud.google.com/apt coral-edgetpu-stable main" > "$list"; \
      if [ "$LIBEDGETPU" = libedgetpu1-max ]; then \
        warn "libedgetpu1-max runs the Edge TPU at its maximum clock; the USB Accelerator gets hot enough to burn"; \
        echo "libedgetpu1-max libedgetpu/accepted-eula select true" | debconf-set-selections; \
      fi; \
      if apt-get update \
        && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$LIBEDGETPU"; then \
        coral=$LIBEDGETPU; \
      fi; \
      rm -rf /var/lib/apt/lists/*; \
    fi; \
    if [ "$coral" = none ]; then \
      rm -f "$keyring" "$list"; \
      if [ "$CORAL" = yes ]; then \
        warn "this image has no Coral runtime ($LIBEDGETPU could not be installed from packages.cloud.google.com with the verified key): edgewatch detects on the CPU"; \
      else \
        echo "CORAL=no: no Coral runtime; edgewatch detects on the CPU" >&2; \
      fi; \
    fi; \
    groupadd --system --gid 10001 edgewatch; \
    useradd --system --uid 10001 --gid edgewatch --groups plugdev,video \
      --home-dir /var/lib/edgewatch --no-create-home --shell /usr/sbin/nologin edgewatch; \
    install -d -m 0700 -o edgewatch -g edgewatch /var/lib/edgewatch; \
    install -d -m 0755 /etc/edgewatch

COPY --from=models-build /opt/edgewatch/models/ /opt/edgewatch/models/
COPY --from=models-context /opt/edgewatch/models/ /opt/edgewatch/models/
COPY --from=build /opt/edgewatch/venv /opt/edgewatch/venv
# Verified again as they land in the image: a model that does not match is refused here.
RUN cd /opt/edgewatch/models/build && sha256sum --strict -c SHA256SUMS \
 && /opt/edgewatch/venv/bin/edgewatch --version

# Nothing is written outside /var/lib/edgewatch (storage.path: events, snapshots, credentials):
# bytecode is compiled at build time, HOME is the state folder, and temporary files go to /tmp
# (give it a tmpfs with --read-only; Python falls back to the working directory without one).
ENV PATH=/opt/edgewatch/venv/bin:$PATH \
    EDGEWATCH_MODELS_DIR=/opt/edgewatch/models \
    HOME=/var/lib/edgewatch \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
VOLUME ["/var/lib/edgewatch"]
WORKDIR /var/lib/edgewatch
EXPOSE 8080
# uid 10001 is the edgewatch user; numeric so that Kubernetes' runAsNonRoot can check it, and
# without a group so that its supplementary groups (plugdev, video) from /etc/group apply.
USER 10001
STOPSIGNAL SIGTERM
# /api/health is the only route without login and says nothing but {"status":"ok"}. No curl in
# the image: Python's urllib, with proxies ignored (an HTTP_PROXY must not catch 127.0.0.1).
HEALTHCHECK --interval=30s --timeout=5s --start-period=90s --retries=3 \
  CMD ["/opt/edgewatch/venv/bin/python", "-c", "import sys, urllib.request as u; r = u.build_opener(u.ProxyHandler({})).open('http://127.0.0.1:8080/api/health', timeout=4); sys.exit(0 if r.status == 200 else 1)"]
ENTRYPOINT ["edgewatch"]
CMD ["run", "--config", "/etc/edgewatch/config.yaml"]
