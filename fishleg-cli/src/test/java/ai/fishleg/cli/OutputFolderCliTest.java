package ai.fishleg.cli;

import static ai.fishleg.cli.CliTest.run;
import static ai.fishleg.cli.CliTest.tiny;
import static org.assertj.core.api.Assertions.assertThat;

import ai.fishleg.cli.CliTest.Run;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An output folder or a checkpoint that cannot be written is refused before training starts, in
 * one line with exit code 2, rather than after the run (which would lose its results).
 */
class OutputFolderCliTest {

    /** @return whether the command trained (printed a table of evaluations or a summary) */
    private static boolean trained(Run r) {
        return r.out().contains("train_loss") || r.out().contains("Summary");
    }

    @Test
    void anOutputFolderThatCannotBeCreatedIsRefusedBeforeTraining(@TempDir Path dir) throws IOException {
        Path file = Files.writeString(dir.resolve("a-file"), "x");
        Path under = file.resolve("run");
        Run r = run(tiny("train", "--optimizer", "adam", "--steps", "4", "--out", under.toString()));
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err().strip()).startsWith("fishleg train: --out " + under + ": cannot create this folder")
                .doesNotContain("\n").doesNotContain("Exception");
        assertThat(trained(r)).as(r.out()).isFalse();

        // an existing file in place of the folder
        Run onFile = run(tiny("compare", "--optimizers", "adam,sgd", "--steps", "4", "--out", file.toString()));
        assertThat(onFile.code()).isEqualTo(2);
        assertThat(onFile.err()).contains("--out " + file + ": cannot create this folder");
        assertThat(trained(onFile)).as(onFile.out()).isFalse();
    }

    @Test
    void aCheckpointThatCannotBeWrittenIsRefusedBeforeTraining(@TempDir Path dir) throws IOException {
        Path file = Files.writeString(dir.resolve("a-file"), "x");
        Path out = dir.resolve("out");
        Path checkpoint = file.resolve("c");
        Run r = run(tiny("train", "--optimizer", "fishleg", "--steps", "4", "--save", checkpoint.toString(),
                "--out", out.toString()));
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err().strip()).startsWith("fishleg train: --save " + file + ": cannot create this folder")
                .doesNotContain("\n");
        assertThat(trained(r)).as(r.out()).isFalse();
        // the output folder created for this run is not left behind, empty
        assertThat(out).doesNotExist();

        Run folder = run(tiny("train", "--optimizer", "fishleg", "--steps", "4", "--save", dir.toString(),
                "--out", out.toString()));
        assertThat(folder.code()).isEqualTo(2);
        assertThat(folder.err()).contains("--save " + dir + " is a folder; give the name of a file");
        assertThat(trained(folder)).as(folder.out()).isFalse();
    }

    @Test
    void missingFoldersOfTheOutputAndTheCheckpointAreCreated(@TempDir Path dir) throws IOException {
        Path out = dir.resolve("a/b/out");
        Path checkpoint = dir.resolve("c/d/checkpoint");
        Run r = run(tiny("train", "--optimizer", "fishleg", "--steps", "2", "--save", checkpoint.toString(),
                "--out", out.toString()));
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(out.resolve(RunFiles.SUMMARY)).isRegularFile();
        assertThat(checkpoint).isRegularFile();
        // the write check leaves nothing behind
        try (var files = Files.list(checkpoint.getParent())) {
            assertThat(files).containsExactly(checkpoint);
        }
    }
}
