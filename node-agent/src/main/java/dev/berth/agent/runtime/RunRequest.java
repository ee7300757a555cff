package dev.berth.agent.runtime;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;

/**
 * What a user asks of a container beyond its image: Berth's clients send it with the container (as the
 * {@code berth.dev/run} extension) and the agent turns image config plus request into the OCI runtime spec.
 * Null fields mean "as the image says" (or the runtime's default).
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public record RunRequest(
        List<String> entrypoint,
        List<String> args,
        List<String> env,
        String workingDir,
        String user,
        String hostname,
        Boolean readOnlyRootfs,
        String network,
        Resources resources,
        List<Mount> mounts,
        String restart,
        Boolean tty,
        Boolean stdin,
        List<String> ports,
        String runtime) {

    public static final String EXTENSION = "berth.dev/run";
    public static final String TYPE_URL = "types.berth.dev/RunRequest/v1";

    /** The common case: a command and nothing else. */
    public static RunRequest ofArgs(List<String> args) {
        return new RunRequest(null, args, null, null, null, null, null, null, null, null, null, null, null, null, null);
    }

    /** Cgroup limits. {@code cpus} is a fraction of CPUs (1.5 = one and a half), turned into a CFS quota. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Resources(Long memoryBytes, Double cpus, Long cpuShares, Long pidsLimit) {}

    /** A bind mount ({@code type} "bind", {@code source} a host path) or a tmpfs ({@code type} "tmpfs"). */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Mount(String type, String source, String destination, Boolean readOnly, String options) {}
}
