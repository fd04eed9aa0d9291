# dakkio node image. No base image can be pulled here, so there is no build
# stage: `make docker` builds the static binary (CGO_ENABLED=0) into
# bin/dakkio-linux and this file only copies it into an empty image.
#
#   make docker          # builds bin/dakkio-linux, then the image dakkio:dev
#   docker run --rm -p 8080:8080 -v dakkio-data:/data dakkio:dev
#
# The image holds the binary and an empty /data, nothing else: no shell, no
# /tmp, no users database. The node writes only under its data dir and
# resolves names with Go's own resolver (Docker mounts /etc/hosts and
# /etc/resolv.conf), so that is all it needs.
FROM scratch

COPY bin/dakkio-linux /dakkio
# An empty directory owned by the user the node runs as, so that a named
# volume mounted on /data starts out writable by it.
COPY --chown=65532:65532 bin/docker-data/ /data/
USER 65532:65532

ENV DAKKIO_DATA_DIR=/data
VOLUME /data

# HTTP API, Raft, gossip (TCP and UDP).
EXPOSE 8080 8300 7946 7946/udp

ENTRYPOINT ["/dakkio", "serve"]
