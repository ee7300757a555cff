package dev.berth.cli;

import com.google.protobuf.ByteString;
import dev.berth.api.services.images.v1.ArchiveChunk;
import dev.berth.api.services.images.v1.DeleteImageRequest;
import dev.berth.api.services.images.v1.ExportImagesRequest;
import dev.berth.api.services.images.v1.GarbageCollectRequest;
import dev.berth.api.services.images.v1.GarbageCollectResponse;
import dev.berth.api.services.images.v1.ImageInfo;
import dev.berth.api.services.images.v1.ImportImagesResponse;
import dev.berth.api.services.images.v1.InspectImageRequest;
import dev.berth.api.services.images.v1.InspectImageResponse;
import dev.berth.api.services.images.v1.ListImageInfoRequest;
import dev.berth.api.services.images.v1.PullProgress;
import dev.berth.api.services.images.v1.PullRequest;
import dev.berth.api.services.images.v1.TagImageRequest;
import dev.berth.cli.rpc.ResponseStream;
import dev.berth.cli.rpc.StreamingCall;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.commons.cli.Options;

/** {@code berth images pull | ls | rm | gc | inspect | tag | export | import}. */
final class ImagesCommand extends Verb.Group {

    ImagesCommand() {
        super("images", "Manage images on the node.", "image");
    }

    @Override
    Verb[] verbs() {
        return new Verb[] {new Pull(), new Ls(), new Rm(), new Gc(), new Inspect(), new Tag(), new Export(), new Import()};
    }

    static final class Pull extends Verb {
        Pull() {
            super("pull", "REF", 1, 1, "Pull an image from a registry and unpack it.");
        }

        @Override
        void options(Options o) {
            o.addOption(value(null, "platform", "OS/ARCH[/VARIANT]", "The platform to pull (default: this node's)."));
        }

        @Override
        int run(Args a) {
            String ref = a.operand(0);
            try (AgentClient c = a.connect()) {
                long start = System.nanoTime();
                ResponseStream<PullProgress> it = c.stream(Rpcs.ImageTools.PULL,
                        PullRequest.newBuilder().setReference(ref).setPlatform(a.value("platform", "")).build());
                PullProgressView view = new PullProgressView(System.out, System.console() != null);
                ImageInfo img = null;
                while (it.hasNext()) {
                    PullProgress p = it.next();
                    if (p.hasImage()) img = p.getImage();
                    else view.update(p);
                }
                if (img == null) throw new CliException("the agent finished the pull of " + ref + " without reporting an image");
                System.out.println(img.getName() + ": pulled " + img.getDigest() + " (" + Format.size(img.getSize()) + ") in "
                        + Format.seconds(System.nanoTime() - start));
                return 0;
            }
        }
    }

    static final class Ls extends Verb {
        Ls() {
            super("ls", "", 0, 0, "List images with digest and size.", "list");
        }

        @Override
        int run(Args a) {
            try (AgentClient c = a.connect()) {
                Format.Table t = new Format.Table("REF", "DIGEST", "SIZE", "UNPACKED");
                for (ImageInfo i : c.call(Rpcs.ImageTools.LIST, ListImageInfoRequest.getDefaultInstance()).getImagesList()) {
                    t.row(i.getName(), i.getDigest(), Format.size(i.getSize()), Format.size(i.getUnpackedSize()));
                }
                t.print(System.out);
                return 0;
            }
        }
    }

    static final class Rm extends Verb {
        Rm() {
            super("rm", "REF...", 1, ANY, "Remove images; content and snapshots nothing else uses are freed.", "remove");
        }

        @Override
        int run(Args a) {
            try (AgentClient c = a.connect()) {
                for (String r : a.operands()) {
                    // sync: content and snapshots no other image or container uses are freed before it returns
                    c.call(Rpcs.Images.DELETE, DeleteImageRequest.newBuilder().setName(r).setSync(true).build());
                    System.out.println(r);
                }
                return 0;
            }
        }
    }

    static final class Gc extends Verb {
        Gc() {
            super("gc", "", 0, 0, "Remove content and snapshots no image or container uses.", "prune");
        }

        @Override
        int run(Args a) {
            try (AgentClient c = a.connect()) {
                GarbageCollectResponse r = c.call(Rpcs.ImageTools.GC, GarbageCollectRequest.getDefaultInstance());
                if (r.getLeasesHeld() > 0) {
                    System.out.println("garbage collection put off: " + r.getLeasesHeld() + " pull(s) or create(s) in progress; run it again once they end");
                    return 0;
                }
                System.out.println("removed " + r.getBlobsRemoved() + " blobs and " + r.getSnapshotsRemoved() + " snapshots, freed "
                        + Format.size(r.getBytesFreed()));
                return 0;
            }
        }
    }

    static final class Inspect extends Verb {
        Inspect() {
            super("inspect", "REF", 1, 1, "Print an image's sizes, manifest and config as JSON.");
        }

        @Override
        int run(Args a) throws IOException {
            try (AgentClient c = a.connect()) {
                InspectImageResponse r = c.call(Rpcs.ImageTools.INSPECT, InspectImageRequest.newBuilder().setName(a.operand(0)).build());
                ImageInfo i = r.getImage();
                Map<String, Object> doc = new LinkedHashMap<>();
                doc.put("name", i.getName());
                doc.put("digest", i.getDigest());
                doc.put("mediaType", i.getMediaType());
                doc.put("size", i.getSize());
                doc.put("unpackedSize", i.getUnpackedSize());
                doc.put("chainId", i.getChainId());
                doc.put("manifest", Json.parse(r.getManifestJson().getBytes(StandardCharsets.UTF_8)));
                doc.put("config", Json.parse(r.getConfigJson().getBytes(StandardCharsets.UTF_8)));
                System.out.print(Json.pretty(doc));
                System.out.println();
                return 0;
            }
        }
    }

    static final class Tag extends Verb {
        Tag() {
            super("tag", "SOURCE TARGET", 2, 2, "Give an image on the node another name.");
        }

        @Override
        int run(Args a) {
            try (AgentClient c = a.connect()) {
                ImageInfo r = c.call(Rpcs.ImageTools.TAG, TagImageRequest.newBuilder().setSource(a.operand(0)).setTarget(a.operand(1)).build());
                System.out.println(r.getName());
                return 0;
            }
        }
    }

    static final class Export extends Verb {
        Export() {
            super("export", "REF...", 1, ANY, "Write images to a tar: an OCI image layout that docker load reads too.");
        }

        @Override
        void options(Options o) {
            o.addOption(value("o", "output", "FILE", "The archive to write ('-' for stdout); required."));
        }

        @Override
        int run(Args a) throws IOException {
            String output = a.value("output");
            if (output == null) throw new Args.UsageException("'berth images export' needs -o FILE (or -o - for stdout)");
            Path tmp = output.equals("-") ? null : Path.of(output + ".partial");
            try (AgentClient c = a.connect();
                 OutputStream out = tmp == null ? System.out : Files.newOutputStream(tmp)) {
                ResponseStream<ArchiveChunk> it = c.stream(Rpcs.ImageTools.EXPORT, ExportImagesRequest.newBuilder().addAllNames(a.operands()).build());
                while (it.hasNext()) it.next().getData().writeTo(out);
            } catch (RuntimeException | IOException e) {
                if (tmp != null) Files.deleteIfExists(tmp);
                throw e;
            }
            // never a half-written archive under the name asked for
            if (tmp != null) Files.move(tmp, Path.of(output), StandardCopyOption.REPLACE_EXISTING);
            return 0;
        }
    }

    static final class Import extends Verb {
        Import() {
            super("import", "FILE", 1, 1, "Load images from a tar (OCI image layout or docker save); FILE '-' reads stdin.");
        }

        @Override
        int run(Args a) throws IOException {
            String file = a.operand(0);
            try (AgentClient c = a.connect();
                 InputStream in = file.equals("-") ? System.in : Files.newInputStream(Path.of(file));
                 StreamingCall<ArchiveChunk, ImportImagesResponse> upload = c.open(Rpcs.ImageTools.IMPORT)) {
                byte[] buf = new byte[1 << 20];
                // send() waits while the agent's flow-control window is full: it unpacks slower than a file reads
                ResponseStream<ImportImagesResponse> answer = upload.responses();
                try {
                    for (int n; (n = in.readNBytes(buf, 0, buf.length)) > 0; ) {
                        upload.send(ArchiveChunk.newBuilder().setData(ByteString.copyFrom(buf, 0, n)).build());
                    }
                } catch (dev.berth.cli.rpc.RpcException ended) {
                    // the agent refused the archive before its end: its own status says why
                    answer.hasNext();
                    throw ended;
                }
                upload.halfClose();
                if (!answer.hasNext()) throw new CliException("the agent ended the import without naming the images");
                for (ImageInfo img : answer.next().getImagesList()) System.out.println("imported " + img.getName() + " " + img.getDigest());
                return 0;
            }
        }
    }
}
