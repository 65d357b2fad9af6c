/*
 * Replays a fuzz target's corpus without libFuzzer: every file of the directories (or
 * files) given runs through LLVMFuzzerTestOneInput once. ctest runs this on every build,
 * so each input that once crashed a decoder stays a regression test.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/fileio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
        char *data = NULL;
        size_t len = 0;
        if (om_read_file(path, 16u << 20, &data, &len) < 0) {
                fprintf(stderr, "replay: cannot read %s\n", path);
                return -1;
        }
        LLVMFuzzerTestOneInput((const uint8_t *)data, len);
        free(data);
        return 0;
}

int main(int argc, char **argv) {
        int count = 0;
        for (int i = 1; i < argc; i++) {
                struct stat st;
                if (stat(argv[i], &st) < 0)
                        continue;
                if (!S_ISDIR(st.st_mode)) {
                        if (run_file(argv[i]) == 0)
                                count++;
                        continue;
                }
                DIR *d = opendir(argv[i]);
                struct dirent *de;
                while (d && (de = readdir(d))) {
                        if (de->d_name[0] == '.')
                                continue;
                        char p[4096];
                        snprintf(p, sizeof(p), "%s/%s", argv[i], de->d_name);
                        if (run_file(p) == 0)
                                count++;
                }
                if (d)
                        closedir(d);
        }
        printf("replayed %d inputs\n", count);
        return count > 0 ? 0 : 77;
}
