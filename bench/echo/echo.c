/* The floor for maintgate's benchmarks: a RewriteMap prg that answers
 * "allow" to every line at once, doing nothing else. Whatever maintgate
 * costs above this is the price of its decision. */
#include <stdio.h>
#include <stdlib.h>

int main(void) {
	char *line = NULL;
	size_t cap = 0;
	setvbuf(stdout, NULL, _IOFBF, 4096);
	while (getline(&line, &cap, stdin) != -1) {
		fputs("allow\n", stdout);
		fflush(stdout);
	}
	free(line);
	return 0;
}
