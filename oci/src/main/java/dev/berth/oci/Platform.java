package dev.berth.oci;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;

/** The platform an image runs on, as an index entry names it. */
@JsonInclude(JsonInclude.Include.NON_EMPTY)
public record Platform(
        @JsonProperty("architecture") String architecture,
        @JsonProperty("os") String os,
        @JsonProperty("variant") String variant) {

    /** The platform of this host, named as Go names it (amd64, arm64), since images do. */
    public static Platform host() {
        String arch = switch (System.getProperty("os.arch")) {
            case "amd64", "x86_64" -> "amd64";
            case "aarch64", "arm64" -> "arm64";
            default -> System.getProperty("os.arch");
        };
        return new Platform(arch, "linux", arch.equals("arm64") ? "v8" : null);
    }

    public static Platform parse(String s) {
        String[] p = s.split("/");
        if (p.length < 2 || p.length > 3) throw new IllegalArgumentException("malformed platform '" + s + "': expected os/arch[/variant]");
        return new Platform(p[1], p[0], p.length == 3 ? p[2] : null);
    }

    /** Whether an index entry's platform fits this wanted platform (variant only compared when both name one). */
    public boolean matches(Platform candidate) {
        if (candidate == null) return false;
        if (!os.equals(candidate.os) || !architecture.equals(candidate.architecture)) return false;
        return variant == null || candidate.variant == null || variant.equals(candidate.variant);
    }

    @Override
    public String toString() {
        return os + "/" + architecture + (variant == null ? "" : "/" + variant);
    }
}
