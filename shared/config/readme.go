package config

import (
	"fmt"
	"slices"
	"strings"
)

// Table is the README's settings table, made from Vars and what each
// function's config reads (functions: a fresh config of each, by logical
// id, as the function registry lists them); a test keeps README.md equal
// to it.
func Table(functions map[string]func() Function) string {
	readers := map[*Var][]string{}
	names := make([]string, 0, len(functions))
	for fn := range functions {
		names = append(names, fn)
	}
	slices.Sort(names)
	for _, fn := range names {
		for _, v := range Uses(functions[fn]()) {
			readers[v] = append(readers[v], strings.TrimSuffix(fn, "Function"))
		}
	}
	var b strings.Builder
	b.WriteString("| Variable | Default | Read by | Meaning |\n|---|---|---|---|\n")
	for _, v := range Vars {
		def := "`" + v.Default + "`"
		switch {
		case v.Required:
			def = "required (the template)"
		case v.Default == "":
			def = "empty"
		}
		shell := ""
		if v.Shell {
			shell = " ‡"
		}
		fmt.Fprintf(&b, "| `%s`%s | %s | %s | %s |\n", v.Name, shell, def, strings.Join(readers[v], ", "), v.Doc)
	}
	return b.String()
}
