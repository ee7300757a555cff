package dev.berth.cli;

import com.google.protobuf.Empty;
import dev.berth.api.services.images.v1.DeleteImageRequest;
import dev.berth.api.services.images.v1.ImageInfo;
import dev.berth.api.services.images.v1.ListImageInfoRequest;
import dev.berth.api.services.images.v1.PullProgress;
import dev.berth.api.services.images.v1.PullRequest;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** {@code berth images pull | ls | rm}. */
@Command(name = "images", aliases = "image", description = "Manage images on the node.",
        subcommands = {ImagesCommand.Pull.class, ImagesCommand.Ls.class, ImagesCommand.Rm.class, ImagesCommand.Gc.class,
                ImagesCommand.Inspect.class, ImagesCommand.Tag.class, ImagesCommand.Export.class, ImagesCommand.Import.class})
final class ImagesCommand {

    @ParentCommand
    Berth berth;

    @Command(name = "pull", description = "Pull an image from a registry and unpack it.")
    static final class Pull implements Callable<Integer> {
        @ParentCommand
        ImagesCommand images;

        @Parameters(paramLabel = "REF", description = "Image reference, e.g. 127.0.0.1:5000/test/busybox:latest")
        String ref;

        @picocli.CommandLine.Option(names = "--platform", description = "os/arch[/variant] to pull (default: this node's).")
        String platform;

        @Override
        public Integer call() {
            try (AgentClient c = images.berth.connect()) {
                long start = System.nanoTime();
                Iterator<PullProgress> it = c.imageTools.pull(PullRequest.newBuilder().setReference(ref).setPlatform(platform == null ? "" : platform).build());
                PullProgressView view = new PullProgressView(System.out, System.console() != null);
                ImageInfo img = null;
                while (it.hasNext()) {
                    PullProgress p = it.next();
                    if (p.hasImage()) img = p.getImage();
                    else view.update(p);
                }
                if (img == null) throw new CliException("the agent finished the pull of " + ref + " without reporting an image");
                System.out.printf("%s: pulled %s (%s) in %.2fs%n", img.getName(), img.getDigest(), Format.size(img.getSize()),
                        (System.nanoTime() - start) / 1e9);
                return 0;
            }
        }
    }

    @Command(name = "ls", aliases = "list", description = "List images with digest and size.")
    static final class Ls implements Callable<Integer> {
        @ParentCommand
        ImagesCommand images;

        @Override
        public Integer call() {
            try (AgentClient c = images.berth.connect()) {
                List<ImageInfo> list = c.imageTools.list(ListImageInfoRequest.getDefaultInstance()).getImagesList();
                Format.Table t = new Format.Table("REF", "DIGEST", "SIZE", "UNPACKED");
                for (ImageInfo i : list) t.row(i.getName(), i.getDigest(), Format.size(i.getSize()), Format.size(i.getUnpackedSize()));
                t.print(System.out);
                return 0;
            }
        }
    }

    @Command(name = "rm", aliases = "remove", description = "Remove images; content and snapshots nothing else uses are freed.")
    static final class Rm implements Callable<Integer> {
        @ParentCommand
        ImagesCommand images;

        @Parameters(arity = "1..*", paramLabel = "REF")
        List<String> refs;

        @Override
        public Integer call() {
            try (AgentClient c = images.berth.connect()) {
                for (String r : refs) {
                    // sync: content and snapshots no other image or container uses are freed before it returns
                    Empty ignored = c.images.delete(DeleteImageRequest.newBuilder().setName(r).setSync(true).build());
                    System.out.println(r);
                }
                return 0;
            }
        }
    }

    @Command(name = "gc", aliases = "prune", description = "Remove content and snapshots no image or container uses.")
    static final class Gc implements Callable<Integer> {
        @ParentCommand
        ImagesCommand images;

        @Override
        public Integer call() {
            try (AgentClient c = images.berth.connect()) {
                var r = c.imageTools.garbageCollect(dev.berth.api.services.images.v1.GarbageCollectRequest.getDefaultInstance());
                System.out.printf("removed %d blobs and %d snapshots, freed %s%n", r.getBlobsRemoved(), r.getSnapshotsRemoved(), Format.size(r.getBytesFreed()));
                return 0;
            }
        }
    }

    @Command(name = "inspect", description = "Print an image's sizes, manifest and config as JSON.")
    static final class Inspect implements Callable<Integer> {
        @ParentCommand
        ImagesCommand images;

        @Parameters(paramLabel = "REF")
        String ref;

        @Override
        public Integer call() throws Exception {
            try (AgentClient c = images.berth.connect()) {
                var r = c.imageTools.inspect(dev.berth.api.services.images.v1.InspectImageRequest.newBuilder().setName(ref).build());
                var json = new com.fasterxml.jackson.databind.ObjectMapper();
                var doc = json.createObjectNode();
                doc.put("name", r.getImage().getName());
                doc.put("digest", r.getImage().getDigest());
                doc.put("mediaType", r.getImage().getMediaType());
                doc.put("size", r.getImage().getSize());
                doc.put("unpackedSize", r.getImage().getUnpackedSize());
                doc.put("chainId", r.getImage().getChainId());
                doc.set("manifest", json.readTree(r.getManifestJson()));
                doc.set("config", json.readTree(r.getConfigJson()));
                System.out.println(json.writerWithDefaultPrettyPrinter().writeValueAsString(doc));
                return 0;
            }
        }
    }

    @Command(name = "tag", description = "Give an image on the node another name.")
    static final class Tag implements Callable<Integer> {
        @ParentCommand
        ImagesCommand images;

        @Parameters(index = "0", paramLabel = "SOURCE")
        String source;

        @Parameters(index = "1", paramLabel = "TARGET")
        String target;

        @Override
        public Integer call() {
            try (AgentClient c = images.berth.connect()) {
                var r = c.imageTools.tag(dev.berth.api.services.images.v1.TagImageRequest.newBuilder().setSource(source).setTarget(target).build());
                System.out.println(r.getName());
                return 0;
            }
        }
    }

    @Command(name = "export", description = "Write images to a tar: an OCI image layout that docker load reads too.")
    static final class Export implements Callable<Integer> {
        @ParentCommand
        ImagesCommand images;

        @picocli.CommandLine.Option(names = {"-o", "--output"}, required = true, description = "The archive to write ('-' for stdout).")
        String output;

        @Parameters(arity = "1..*", paramLabel = "REF")
        List<String> refs;

        @Override
        public Integer call() throws Exception {
            java.nio.file.Path tmp = output.equals("-") ? null : java.nio.file.Path.of(output + ".partial");
            try (AgentClient c = images.berth.connect();
                 java.io.OutputStream out = tmp == null ? System.out : java.nio.file.Files.newOutputStream(tmp)) {
                var it = c.imageTools.export(dev.berth.api.services.images.v1.ExportImagesRequest.newBuilder().addAllNames(refs).build());
                while (it.hasNext()) it.next().getData().writeTo(out);
            } catch (RuntimeException | java.io.IOException e) {
                if (tmp != null) java.nio.file.Files.deleteIfExists(tmp);
                throw e;
            }
            // never a half-written archive under the name asked for
            if (tmp != null) java.nio.file.Files.move(tmp, java.nio.file.Path.of(output), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            return 0;
        }
    }

    @Command(name = "import", description = "Load images from a tar (OCI image layout or docker save).")
    static final class Import implements Callable<Integer> {
        @ParentCommand
        ImagesCommand images;

        @Parameters(paramLabel = "FILE", description = "The archive ('-' for stdin).")
        String file;

        @Override
        public Integer call() throws Exception {
            try (AgentClient c = images.berth.connect();
                 java.io.InputStream in = file.equals("-") ? System.in : java.nio.file.Files.newInputStream(java.nio.file.Path.of(file))) {
                var done = new java.util.concurrent.CompletableFuture<dev.berth.api.services.images.v1.ImportImagesResponse>();
                var upload = c.imageToolsAsync.import_(new io.grpc.stub.StreamObserver<>() {
                    @Override
                    public void onNext(dev.berth.api.services.images.v1.ImportImagesResponse r) {
                        done.complete(r);
                    }

                    @Override
                    public void onError(Throwable t) {
                        done.completeExceptionally(t);
                    }

                    @Override
                    public void onCompleted() {
                    }
                });
                byte[] buf = new byte[1 << 20];
                var flow = (io.grpc.stub.ClientCallStreamObserver<dev.berth.api.services.images.v1.ArchiveChunk>) upload;
                for (int n; !done.isDone() && (n = in.readNBytes(buf, 0, buf.length)) > 0; ) {
                    while (!flow.isReady() && !done.isDone()) Thread.sleep(2); // the agent unpacks slower than a file reads
                    upload.onNext(dev.berth.api.services.images.v1.ArchiveChunk.newBuilder().setData(com.google.protobuf.ByteString.copyFrom(buf, 0, n)).build());
                }
                upload.onCompleted();
                try {
                    for (var img : done.get().getImagesList()) System.out.println("imported " + img.getName() + " " + img.getDigest());
                } catch (java.util.concurrent.ExecutionException e) {
                    if (e.getCause() instanceof RuntimeException re) throw re;
                    throw e;
                }
                return 0;
            }
        }
    }
}
