# syntax=docker/dockerfile:1
# edgewatch as a container: the appliance, its built and verified models and the Coral runtime.
#
#   docker build -t edgewatch .                                            # Coral runtime libedgetpu1-std
#   docker build --build-arg LIBEDGETPU=libedgetpu1-max -t edgewatch .     # max clock: the USB stick runs hot
#   docker build --build-arg CORAL=no -t edgewatch .                       # CPU detection only
#
# The build needs network access once (PyPI for tensorflow, pip and the app's dependencies;
# Coral's apt repository); the image never downloads anything at run time. The app's Python
# dependencies come from deploy/requirements.lock with --require-hashes, and Coral's key is
# taken only if its fingerprint is the one pinned in deploy/install.sh. (The base image is not
# pinned by digest here: the registry-free build from Debian packages is another issue's.) The model build
# runs tensorflow in the build stage only: the runtime image holds no tensorflow.
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

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------------------------------------
# build: the models (tensorflow in its own virtualenv) and the appliance's virtualenv
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_NO_INPUT=1
WORKDIR /src

# Only the model sources: a models/build left in the build context is never used, the models
# are always built here (build.sh records their sha256 in build/SHA256SUMS).
COPY models/manifest.toml models/build.sh models/build.py models/build_coco.py models/buildlib.py models/
COPY models/labels/ models/labels/
RUN EDGEWATCH_BUILD_CACHE=/tmp/model-build bash models/build.sh \
 && (cd models/build && sha256sum --strict -c SHA256SUMS) \
 && install -d -m 0755 /opt/edgewatch/models/build /opt/edgewatch/models/labels \
 && install -m 0644 models/manifest.toml /opt/edgewatch/models/ \
 && install -m 0644 models/labels/*.txt /opt/edgewatch/models/labels/ \
 && install -m 0644 models/build/SHA256SUMS models/build/*.tflite /opt/edgewatch/models/build/ \
 && rm -rf /tmp/model-build

# The runtime's venv: every dependency from deploy/requirements.lock, each checked against its
# sha256 (wheels only), then the app as a wheel built with the locked setuptools and wheel (no
# build isolation, which would fetch them again unchecked) and installed without dependencies.
COPY pyproject.toml README.md ./
COPY deploy/requirements.lock deploy/
COPY app/ app/
RUN python -m venv /opt/edgewatch/venv \
 && /opt/edgewatch/venv/bin/pip install --require-hashes --only-binary=:all: -r deploy/requirements.lock \
 && /opt/edgewatch/venv/bin/pip wheel --no-deps --no-build-isolation --no-index --wheel-dir /dist . \
 && /opt/edgewatch/venv/bin/pip install --no-deps --no-index /dist/edgewatch-*.whl \
 && /opt/edgewatch/venv/bin/edgewatch --version

# ---------------------------------------------------------------------------------------------
# coral-key: Coral's apt signing key, only if its fingerprint is the pinned one, as a binary
# keyring of that key alone (no curl or gpg in the runtime image). The check is the installer's
# own (trusted_keyring and CORAL_KEY_FINGERPRINT in deploy/install.sh, sourced, not run).
FROM ${PYTHON_IMAGE} AS coral-key
COPY deploy/install.sh /tmp/install.sh
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends curl gpg \
 && curl --fail --silent --show-error --location --proto '=https' --tlsv1.2 \
      -o /tmp/apt-key.gpg https://packages.cloud.google.com/apt/doc/apt-key.gpg \
 && bash -c '. /tmp/install.sh && trusted_keyring /tmp/apt-key.gpg "$CORAL_KEY_FINGERPRINT" /coral-edgetpu.gpg'

# ---------------------------------------------------------------------------------------------
# runtime: Python, the venv, the verified models, libedgetpu; runs as uid 10001
FROM ${PYTHON_IMAGE} AS runtime
ARG CORAL=yes
ARG LIBEDGETPU=libedgetpu1-std
COPY --from=coral-key /coral-edgetpu.gpg /usr/share/keyrings/coral-edgetpu.gpg
RUN set -eu; \
    case "$LIBEDGETPU" in libedgetpu1-std|libedgetpu1-max) ;; *) echo "LIBEDGETPU must be libedgetpu1-std or libedgetpu1-max" >&2; exit 1;; esac; \
    if [ "$CORAL" = yes ]; then \
      echo "deb [signed-by=/usr/share/keyrings/coral-edgetpu.gpg] https://packages.cloud.google.com/apt coral-edgetpu-stable main" \
        > /etc/apt/sources.list.d/coral-edgetpu.list; \
      if [ "$LIBEDGETPU" = libedgetpu1-max ]; then \
        echo "WARNING: libedgetpu1-max runs the Edge TPU at its maximum clock; the USB Accelerator gets hot enough to burn" >&2; \
        echo "libedgetpu1-max libedgetpu/accepted-eula select true" | debconf-set-selections; \
      fi; \
      apt-get update; \
      DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$LIBEDGETPU"; \
      rm -rf /var/lib/apt/lists/*; \
    fi; \
    groupadd --system --gid 10001 edgewatch; \
    useradd --system --uid 10001 --gid edgewatch --groups plugdev,video \
      --home-dir /var/lib/edgewatch --no-create-home --shell /usr/sbin/nologin edgewatch; \
    install -d -m 0700 -o edgewatch -g edgewatch /var/lib/edgewatch; \
    install -d -m 0755 /etc/edgewatch

COPY --from=build /opt/edgewatch /opt/edgewatch
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
