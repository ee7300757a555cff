package dev.berth.cli;

import dev.berth.api.services.content.v1.DeleteContentRequest;
import dev.berth.api.services.content.v1.Info;
import dev.berth.api.services.content.v1.ListContentRequest;
import dev.berth.api.services.content.v1.ListContentResponse;
import dev.berth.api.services.snapshots.v1.ListSnapshotsRequest;
import dev.berth.api.services.snapshots.v1.ListSnapshotsResponse;
import dev.berth.api.services.snapshots.v1.RemoveSnapshotRequest;
import dev.berth.api.services.snapshots.v1.UsageRequest;
import dev.berth.api.services.snapshots.v1.UsageResponse;
import dev.berth.cli.rpc.ResponseStream;
import java.util.ArrayList;
import java.util.List;

/** ctr-like views of the node's stores: snapshots (layers and containers' writable layers) and content (blobs). */
final class StoreCommands {
    private StoreCommands() {}

    static final class Snapshots extends Verb.Group {
        Snapshots() {
            super("snapshots", "The node's overlay snapshots.", "snapshot");
        }

        @Override
        Verb[] verbs() {
            return new Verb[] {new Ls(), new Usage(), new Rm()};
        }

        /** Every snapshot's name. */
        private static List<String> names(AgentClient c) {
            List<String> names = new ArrayList<>();
            ResponseStream<ListSnapshotsResponse> it = c.stream(Rpcs.Snapshots.LIST, ListSnapshotsRequest.getDefaultInstance());
            while (it.hasNext()) for (var i : it.next().getInfoList()) names.add(i.getName());
            return names;
        }

        static final class Ls extends Verb {
            Ls() {
                super("ls", "", 0, 0, "List snapshots: layer chains (committed) and containers' (active).", "list");
            }

            @Override
            int run(Args a) {
                try (AgentClient c = a.connect()) {
                    Format.Table t = new Format.Table("KEY", "PARENT", "KIND");
                    ResponseStream<ListSnapshotsResponse> it = c.stream(Rpcs.Snapshots.LIST, ListSnapshotsRequest.getDefaultInstance());
                    while (it.hasNext()) {
                        for (var i : it.next().getInfoList()) t.row(i.getName(), i.getParent(), i.getKind().name().toLowerCase());
                    }
                    t.print(System.out);
                    return 0;
                }
            }
        }

        static final class Usage extends Verb {
            Usage() {
                super("usage", "[KEY...]", 0, ANY, "Disk used by each snapshot's own layer (or the ones named).");
            }

            @Override
            int run(Args a) {
                try (AgentClient c = a.connect()) {
                    List<String> names = a.operands().isEmpty() ? names(c) : a.operands();
                    Format.Table t = new Format.Table("KEY", "SIZE", "INODES");
                    long total = 0;
                    for (String k : names) {
                        UsageResponse u = c.call(Rpcs.Snapshots.USAGE, UsageRequest.newBuilder().setKey(k).build());
                        total += u.getSize();
                        t.row(k, Format.size(u.getSize()), Long.toString(u.getInodes()));
                    }
                    t.row("total", Format.size(total), "");
                    t.print(System.out);
                    return 0;
                }
            }
        }

        static final class Rm extends Verb {
            Rm() {
                super("rm", "KEY...", 1, ANY, "Remove snapshots nothing builds on.", "remove");
            }

            @Override
            int run(Args a) {
                try (AgentClient c = a.connect()) {
                    for (String k : a.operands()) {
                        c.call(Rpcs.Snapshots.REMOVE, RemoveSnapshotRequest.newBuilder().setKey(k).build());
                        System.out.println(k);
                    }
                    return 0;
                }
            }
        }
    }

    static final class Content extends Verb.Group {
        Content() {
            super("content", "The node's content store (blobs by digest).");
        }

        @Override
        Verb[] verbs() {
            return new Verb[] {new Ls(), new Rm()};
        }

        static final class Ls extends Verb {
            Ls() {
                super("ls", "", 0, 0, "List blobs with their sizes.", "list");
            }

            @Override
            int run(Args a) {
                try (AgentClient c = a.connect()) {
                    Format.Table t = new Format.Table("DIGEST", "SIZE", "AGE");
                    ResponseStream<ListContentResponse> it = c.stream(Rpcs.Content.LIST, ListContentRequest.getDefaultInstance());
                    while (it.hasNext()) {
                        for (Info i : it.next().getInfoList()) t.row(i.getDigest(), Format.size(i.getSize()), Format.ago(i.getCreatedAt().getSeconds()));
                    }
                    t.print(System.out);
                    return 0;
                }
            }
        }

        static final class Rm extends Verb {
            Rm() {
                super("rm", "DIGEST...", 1, ANY, "Remove blobs no image uses.", "remove");
            }

            @Override
            int run(Args a) {
                try (AgentClient c = a.connect()) {
                    for (String d : a.operands()) {
                        c.call(Rpcs.Content.DELETE, DeleteContentRequest.newBuilder().setDigest(d).build());
                        System.out.println(d);
                    }
                    return 0;
                }
            }
        }
    }
}
