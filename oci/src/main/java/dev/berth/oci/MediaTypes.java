package dev.berth.oci;

import java.util.List;

/** Media types of the OCI image spec and of Docker's schema 2, which registries still serve widely. */
public final class MediaTypes {
    private MediaTypes() {}

    public static final String OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
    public static final String OCI_INDEX = "application/vnd.oci.image.index.v1+json";
    public static final String OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
    public static final String OCI_LAYER = "application/vnd.oci.image.layer.v1.tar";
    public static final String OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip";
    public static final String OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd";
    public static final String DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
    public static final String DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
    public static final String DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json";
    public static final String DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip";
    public static final String DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

    /** What a client accepts when it asks a registry for a manifest, most preferred first. */
    public static final List<String> MANIFEST_ACCEPT = List.of(OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST);

    public static boolean isIndex(String mt) {
        return OCI_INDEX.equals(mt) || DOCKER_MANIFEST_LIST.equals(mt);
    }

    public static boolean isManifest(String mt) {
        return OCI_MANIFEST.equals(mt) || DOCKER_MANIFEST.equals(mt);
    }

    public enum Compression { NONE, GZIP, ZSTD }

    /** How a layer blob is compressed, from its media type; unknown layer types are refused by the caller. */
    public static Compression layerCompression(String mt) {
        return switch (mt) {
            case OCI_LAYER, "application/vnd.oci.image.layer.nondistributable.v1.tar" -> Compression.NONE;
            case OCI_LAYER_GZIP, DOCKER_LAYER_GZIP, DOCKER_FOREIGN_LAYER,
                 "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip" -> Compression.GZIP;
            case OCI_LAYER_ZSTD -> Compression.ZSTD;
            default -> throw new IllegalArgumentException("unsupported layer media type '" + mt + "'");
        };
    }
}
