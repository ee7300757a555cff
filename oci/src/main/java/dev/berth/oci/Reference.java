package dev.berth.oci;

import java.util.regex.Pattern;

/**
 * An image reference, normalised as Docker does: {@code busybox} means {@code docker.io/library/busybox:latest}.
 * A reference names a tag, a digest, or both (the digest wins).
 */
public record Reference(String registry, String repository, String tag, Digest digest) {

    public static final String DOCKER_HUB = "docker.io";
    private static final Pattern REPO = Pattern.compile("[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*");
    private static final Pattern TAG = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");

    public static Reference parse(String s) {
        if (s == null || s.isBlank()) throw new IllegalArgumentException("empty image reference: name an image, e.g. busybox or 127.0.0.1:5000/test/busybox:latest");
        String rest = s.trim();
        Digest digest = null;
        int at = rest.indexOf('@');
        if (at >= 0) {
            try {
                digest = Digest.parse(rest.substring(at + 1));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("invalid image reference '" + s + "': " + e.getMessage());
            }
            rest = rest.substring(0, at);
        }
        String registry = DOCKER_HUB;
        int slash = rest.indexOf('/');
        if (slash > 0) {
            String first = rest.substring(0, slash);
            if (first.contains(".") || first.contains(":") || first.equals("localhost")) {
                registry = first;
                rest = rest.substring(slash + 1);
            }
        }
        String tag = null;
        int colon = rest.lastIndexOf(':');
        if (colon > rest.lastIndexOf('/')) {
            tag = rest.substring(colon + 1);
            rest = rest.substring(0, colon);
            if (!TAG.matcher(tag).matches()) throw new IllegalArgumentException("invalid tag '" + tag + "' in image reference '" + s + "'");
        }
        if (registry.equals(DOCKER_HUB) && !rest.contains("/")) rest = "library/" + rest;
        if (!REPO.matcher(rest).matches()) {
            throw new IllegalArgumentException("invalid repository name '" + rest + "' in image reference '" + s + "': use lowercase letters, digits and . _ - separators");
        }
        if (tag == null && digest == null) tag = "latest";
        return new Reference(registry, rest, tag, digest);
    }

    /** What to ask the registry's manifest endpoint for: the digest when known, else the tag. */
    public String manifestReference() {
        return digest != null ? digest.toString() : tag;
    }

    /** The host to talk to: Docker Hub's API lives on another name than the one people write. */
    public String apiHost() {
        return registry.equals(DOCKER_HUB) ? "registry-1.docker.io" : registry;
    }

    public Reference withDigest(Digest d) {
        return new Reference(registry, repository, tag, d);
    }

    /** Registries on loopback default to plain HTTP, as Docker does. */
    public boolean isLoopback() {
        String host = registry;
        if (host.startsWith("[")) host = host.substring(1, host.indexOf(']'));
        else if (host.indexOf(':') >= 0) host = host.substring(0, host.lastIndexOf(':'));
        return host.equals("localhost") || host.matches("127(\\.\\d{1,3}){3}") || host.equals("::1");
    }

    /** The full normalised name, e.g. docker.io/library/busybox:latest. */
    @Override
    public String toString() {
        StringBuilder b = new StringBuilder(registry).append('/').append(repository);
        if (tag != null) b.append(':').append(tag);
        if (digest != null) b.append('@').append(digest);
        return b.toString();
    }
}
