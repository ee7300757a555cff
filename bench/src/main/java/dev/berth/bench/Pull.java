package dev.berth.bench;

import dev.berth.api.services.images.v1.DeleteImageRequest;
import dev.berth.api.services.images.v1.ImageToolsGrpc;
import dev.berth.api.services.images.v1.ImagesGrpc;
import dev.berth.api.services.images.v1.PullProgress;
import dev.berth.api.services.images.v1.PullRequest;
import io.grpc.Channel;
import java.util.Iterator;

/**
 * Cold pulls through the agent's API: pull, then remove the image with sync garbage collection (so the next
 * round starts with no content and no snapshots), ROUNDS times. Prints one line per round: seconds.
 * Usage: Pull SOCKET IMAGE ROUNDS
 */
public final class Pull {

    public static void main(String[] args) throws Exception {
        String socket = args[0];
        String image = args[1];
        int rounds = Integer.parseInt(args[2]);
        BenchClient client = new BenchClient(socket);
        Channel ch = client.channel;
        ImageToolsGrpc.ImageToolsBlockingStub tools = ImageToolsGrpc.newBlockingStub(ch);
        ImagesGrpc.ImagesBlockingStub images = ImagesGrpc.newBlockingStub(ch);
        for (int i = 0; i < rounds; i++) {
            new ProcessBuilder("sh", "-c", "sync; echo 3 > /proc/sys/vm/drop_caches").start().waitFor();
            long t0 = System.nanoTime();
            Iterator<PullProgress> it = tools.pull(PullRequest.newBuilder().setReference(image).build());
            while (it.hasNext()) it.next();
            System.out.printf("%.4f%n", (System.nanoTime() - t0) / 1e9);
            images.delete(DeleteImageRequest.newBuilder().setName(image).setSync(true).build());
        }
        client.close();
    }
}
