package dev.berth.cli;

/** The verbs of {@code berth}, in the order its help lists them. */
final class Verbs {
    private Verbs() {}

    static Verb[] all() {
        return new Verb[] {
            new ImagesCommand(), new RunCommand(), new ContainerCommands.Ps(), new ContainerCommands.Logs(),
            new ContainerCommands.Start(), new ContainerCommands.Stop(), new ContainerCommands.Restart(), new ContainerCommands.Wait(),
            new ContainerCommands.Rm(), new TaskCommands.Exec(), new TaskCommands.Attach(), new TaskCommands.Kill(),
            new TaskCommands.Pause(), new TaskCommands.Unpause(), new TaskCommands.Top(), new TaskCommands.Stats(),
            new TaskCommands.Update(), new StoreCommands.Snapshots(), new StoreCommands.Content(), new VersionCommand(),
        };
    }

    /** The verb a word names (its name or an alias), or null. */
    static Verb find(String word) {
        for (Verb v : all()) if (v.answersTo(word)) return v;
        return null;
    }
}
