package dev.berth.agent.runtime;

import dev.berth.agent.metadata.MetadataStore.ContainerRecord;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;

/**
 * The OCI runtimes a container may choose: runc (the default) or crun. containerd's runtime name
 * {@code io.containerd.runc.v2} means runc. Each runtime keeps its state under its own root.
 */
public final class Runtimes {

    public static final Set<String> NAMES = Set.of("runc", "crun", "io.containerd.runc.v2", "io.containerd.runc.v1");
    public static final String DEFAULT_NAME = "io.containerd.runc.v2";

    private final Runc runc;
    private final Runc crun;
    private final String crunBinary;

    public Runtimes(String runcBinary, String crunBinary, Path stateRoot) {
        this.runc = new Runc(runcBinary, stateRoot.resolve("runc"));
        this.crunBinary = crunBinary;
        this.crun = new Runc(crunBinary, stateRoot.resolve("crun"));
    }

    public Runc defaultRuntime() {
        return runc;
    }

    /** Checks a requested runtime name; unknown names and an uninstalled crun are refused with the reason. */
    public static String validate(String name, String crunBinary) {
        if (name == null || name.isEmpty()) return DEFAULT_NAME;
        if (!NAMES.contains(name)) {
            throw new TaskException(TaskException.Kind.INVALID, "unknown runtime '" + name + "': use runc (the default) or crun");
        }
        if (name.equals("crun")) {
            if (!Files.isExecutable(Path.of(crunBinary))) {
                throw new TaskException(TaskException.Kind.FAILED_PRECONDITION, "runtime crun is not installed on this node (" + crunBinary + " is missing); install it (apt-get install crun) or use runc");
            }
            if (Cgroups.hybrid()) {
                throw new TaskException(TaskException.Kind.FAILED_PRECONDITION, "runtime crun refuses this node's hybrid cgroup layout (v1 controllers beside a v2 hierarchy at /sys/fs/cgroup/unified); use runc here, or crun on a node with cgroup v2 only");
            }
        }
        return name;
    }

    public String crunBinary() {
        return crunBinary;
    }

    public Runc forContainer(ContainerRecord c) {
        return Map.of("crun", crun).getOrDefault(c.runtime(), runc);
    }
}
