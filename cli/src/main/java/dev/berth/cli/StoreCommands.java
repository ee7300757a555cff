package dev.berth.cli;

import dev.berth.api.services.content.v1.DeleteContentRequest;
import dev.berth.api.services.content.v1.Info;
import dev.berth.api.services.content.v1.ListContentRequest;
import dev.berth.api.services.snapshots.v1.ListSnapshotsRequest;
import dev.berth.api.services.snapshots.v1.RemoveSnapshotRequest;
import dev.berth.api.services.snapshots.v1.UsageRequest;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** ctr-like views of the node's stores: snapshots (layers and containers' writable layers) and content (blobs). */
final class StoreCommands {
    private StoreCommands() {}

    @Command(name = "snapshots", aliases = "snapshot", description = "The node's overlay snapshots.",
            subcommands = {Snapshots.Ls.class, Snapshots.Usage.class, Snapshots.Rm.class})
    static final class Snapshots {
        @ParentCommand
        Berth berth;

        @Command(name = "ls", aliases = "list", description = "List snapshots: layer chains (committed) and containers' (active).")
        static final class Ls implements Callable<Integer> {
            @ParentCommand
            Snapshots parent;

            @Override
            public Integer call() {
                try (AgentClient c = parent.berth.connect()) {
                    Format.Table t = new Format.Table("KEY", "PARENT", "KIND");
                    var it = c.snapshots.list(ListSnapshotsRequest.getDefaultInstance());
                    while (it.hasNext()) {
                        for (var i : it.next().getInfoList()) t.row(i.getName(), i.getParent(), i.getKind().name().toLowerCase());
                    }
                    t.print(System.out);
                    return 0;
                }
            }
        }

        @Command(name = "usage", description = "Disk used by each snapshot's own layer (or the ones named).")
        static final class Usage implements Callable<Integer> {
            @ParentCommand
            Snapshots parent;

            @Parameters(arity = "0..*", paramLabel = "KEY")
            List<String> keys;

            @Override
            public Integer call() {
                try (AgentClient c = parent.berth.connect()) {
                    List<String> names = keys;
                    if (names == null || names.isEmpty()) {
                        names = new java.util.ArrayList<>();
                        var it = c.snapshots.list(ListSnapshotsRequest.getDefaultInstance());
                        while (it.hasNext()) for (var i : it.next().getInfoList()) names.add(i.getName());
                    }
                    Format.Table t = new Format.Table("KEY", "SIZE", "INODES");
                    long total = 0;
                    for (String k : names) {
                        var u = c.snapshots.usage(UsageRequest.newBuilder().setKey(k).build());
                        total += u.getSize();
                        t.row(k, Format.size(u.getSize()), Long.toString(u.getInodes()));
                    }
                    t.row("total", Format.size(total), "");
                    t.print(System.out);
                    return 0;
                }
            }
        }

        @Command(name = "rm", aliases = "remove", description = "Remove snapshots nothing builds on.")
        static final class Rm implements Callable<Integer> {
            @ParentCommand
            Snapshots parent;

            @Parameters(arity = "1..*", paramLabel = "KEY")
            List<String> keys;

            @Override
            public Integer call() {
                try (AgentClient c = parent.berth.connect()) {
                    for (String k : keys) {
                        c.snapshots.remove(RemoveSnapshotRequest.newBuilder().setKey(k).build());
                        System.out.println(k);
                    }
                    return 0;
                }
            }
        }
    }

    @Command(name = "content", description = "The node's content store (blobs by digest).",
            subcommands = {Content.Ls.class, Content.Rm.class})
    static final class Content {
        @ParentCommand
        Berth berth;

        @Command(name = "ls", aliases = "list", description = "List blobs with their sizes.")
        static final class Ls implements Callable<Integer> {
            @ParentCommand
            Content parent;

            @Override
            public Integer call() {
                try (AgentClient c = parent.berth.connect()) {
                    Format.Table t = new Format.Table("DIGEST", "SIZE", "AGE");
                    var it = c.content.list(ListContentRequest.getDefaultInstance());
                    while (it.hasNext()) {
                        for (Info i : it.next().getInfoList()) t.row(i.getDigest(), Format.size(i.getSize()), Format.ago(i.getCreatedAt().getSeconds()));
                    }
                    t.print(System.out);
                    return 0;
                }
            }
        }

        @Command(name = "rm", aliases = "remove", description = "Remove blobs no image uses.")
        static final class Rm implements Callable<Integer> {
            @ParentCommand
            Content parent;

            @Parameters(arity = "1..*", paramLabel = "DIGEST")
            List<String> digests;

            @Override
            public Integer call() {
                try (AgentClient c = parent.berth.connect()) {
                    for (String d : digests) {
                        c.content.delete(DeleteContentRequest.newBuilder().setDigest(d).build());
                        System.out.println(d);
                    }
                    return 0;
                }
            }
        }
    }
}
