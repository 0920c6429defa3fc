// Command goecho is the second floor for the round-trip benchmarks: the
// same trivial "allow to every line" program as echo.c, but in Go, so the
// report can separate what the Go runtime's pipe handling costs (or saves)
// from what maintgate's decision costs.
package main

import (
	"bufio"
	"os"
)

func main() {
	r := bufio.NewReaderSize(os.Stdin, 128<<10)
	w := bufio.NewWriter(os.Stdout)
	for {
		_, err := r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return
		}
		w.WriteString("allow\n")
		if w.Flush() != nil {
			return
		}
	}
}
