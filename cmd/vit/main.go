// Command vit trains, evaluates, benchmarks and describes Vision
// Transformers. Run "vit help" for the commands and "vit COMMAND --help"
// for each one's flags. Progress goes to stderr, results to stdout.
//
// Flags may come before or after a command's arguments; "--" ends them.
// Where a command takes images, "-" reads one image from stdin.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/vitgo/vit/internal/console"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run runs vit with args (without the program name), reading any image
// named "-" from os.Stdin, and returns the exit status: 0, 1 for a failure,
// 2 for a bad command line.
func run(args []string, stdout, stderr io.Writer) int {
	return runWithInput(args, os.Stdin, stdout, stderr)
}

// runWithInput is run with stdin as the standard input. The first
// Ctrl-C (os.Interrupt) cancels the command's context, which stops
// downloads, loading, training and evaluation cleanly; a second one ends
// the process.
func runWithInput(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	context.AfterFunc(ctx, stop) // after the first, Ctrl-C kills
	return runContext(ctx, args, stdin, stdout, stderr)
}

// runContext is runWithInput under ctx: the command stops when ctx is
// done, saying it was interrupted.
func runContext(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	con := console.NewWriter(stderr) // messages start on a fresh line, after any progress bar
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(console.NewHandler(con, "vit", slog.LevelInfo)))
	name, err := execute(ctx, args, stdin, stdout, con)
	if err == nil {
		return 0
	}
	switch {
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		con.Printf("%s: interrupted", name)
	case err != errUsage: // errUsage alone: the usage is already printed
		con.Printf("%s: %v", name, err)
	}
	if errors.Is(err, errUsage) {
		return 2
	}
	return 1
}

// execute runs the command args name under ctx (the command's
// cmd.Context()) and returns its error and its name ("vit predict").
func execute(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) (string, error) {
	root := newRoot(stdin, stdout, stderr)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if cmd == nil {
		cmd = root
	}
	return cmd.CommandPath(), err
}

// newRoot builds the vit command and its subcommands, reading and writing
// the given streams.
func newRoot(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "vit",
		Short:         "Vision Transformers in pure Go",
		Version:       version(),
		SilenceErrors: true,
		SilenceUsage:  true,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf("unknown command %q: see 'vit help'", args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			usage(cmd.ErrOrStderr(), cmd)
			return errUsage
		},
	}
	root.SetIn(stdin)
	root.SetOut(stdout) // before InitDefaultCompletionCmd, which keeps it
	root.SetErr(stderr)
	root.SetVersionTemplate("vit {{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return flagError(err) })
	root.SetUsageFunc(func(cmd *cobra.Command) error {
		usage(cmd.OutOrStderr(), cmd)
		return nil
	})
	root.SetHelpFunc(func(cmd *cobra.Command, _ []string) { usage(cmd.OutOrStdout(), cmd) })
	root.AddCommand(
		trainCommand(), evalCommand(), infoCommand(), benchCommand(), predictCommand(), embedCommand(),
		fewshotCommand(), convertCommand(), finetuneCommand(), attentionCommand(), reportCommand(),
		serveCommand(), zeroshotCommand(), studyCommand(),
	)
	// cobra's own commands, worded like the others.
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		switch c.Name() {
		case "help":
			c.Short = "the commands, or a command's flags: vit help COMMAND"
		case "completion":
			c.Short = "a shell completion script: vit completion bash|zsh|fish|powershell"
		}
	}
	return root
}

// version is the module version and the commit vit was built from, as
// runtime/debug.ReadBuildInfo records them: "(devel)" for a build from a
// source tree, with "commit abc1234, modified" when the tree was a git
// checkout with changes.
func version() string { return formatVersion(debug.ReadBuildInfo()) }

func formatVersion(info *debug.BuildInfo, ok bool) string {
	if !ok {
		return "(unknown: built without module information)"
	}
	v := info.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev != "" {
		v += " commit " + rev
		if modified == "true" {
			v += ", modified"
		}
	}
	return v + " (" + info.GoVersion + ")"
}

// errUsage marks a bad command line: exit status 2.
var errUsage = errors.New("usage")

// usageError is a bad command line, explained in one line.
type usageError struct{ msg string }

func (e *usageError) Error() string        { return e.msg }
func (e *usageError) Is(target error) bool { return target == errUsage }

func usageErrorf(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// noArgs refuses positional arguments.
func noArgs(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf("unexpected argument %q (see --help)", args[0])
	}
	return nil
}

// flag groups: flags annotated with a group are listed under its heading.
const groupKey = "vit_group"

// group puts every flag of fs registered by register under heading.
func group(fs *pflag.FlagSet, heading string, register func(flags)) {
	before := map[string]bool{}
	fs.VisitAll(func(f *pflag.Flag) { before[f.Name] = true })
	register(flags{fs})
	fs.VisitAll(func(f *pflag.Flag) {
		if !before[f.Name] {
			f.Annotations = map[string][]string{groupKey: {heading}}
		}
	})
}

// usage writes cmd's help: the synopsis, what it does, and its flags by
// group; for vit itself, the list of commands.
func usage(w io.Writer, cmd *cobra.Command) {
	if !cmd.HasParent() {
		fmt.Fprintf(w, "vit: %s\n\nUsage: vit COMMAND [flags] [arguments]\n\nCommands:\n", cmd.Short)
		for _, c := range cmd.Commands() {
			if c.IsAvailableCommand() || c.Name() == "help" {
				fmt.Fprintf(w, "  %-10s %s\n", c.Name(), c.Short)
			}
		}
		fmt.Fprintln(w, "\nFlags:")
		flagUsages(w, cmd.Flags())
		fmt.Fprintln(w, "\nRun 'vit COMMAND --help' for a command's flags. Flags may come before or after arguments; -- ends them.")
		return
	}
	fmt.Fprintf(w, "Usage: %s %s\n\n%s\n", cmd.Parent().CommandPath(), cmd.Use, cmd.Short)
	if cmd.Long != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(cmd.Long))
	}
	groups := map[string]*pflag.FlagSet{}
	order := []string{"Flags"} // the command's own flags first, then the groups
	cmd.LocalFlags().VisitAll(func(f *pflag.Flag) {
		g := "Flags"
		if a := f.Annotations[groupKey]; len(a) > 0 {
			g = a[0]
		}
		if groups[g] == nil {
			groups[g] = pflag.NewFlagSet(g, pflag.ContinueOnError)
			if g != "Flags" {
				order = append(order, g)
			}
		}
		groups[g].AddFlag(f)
	})
	for _, g := range order {
		if groups[g] == nil {
			continue
		}
		fmt.Fprintf(w, "\n%s:\n", g)
		flagUsages(w, groups[g])
	}
	if cmd.HasAvailableSubCommands() {
		fmt.Fprintln(w, "\nCommands:")
		for _, c := range cmd.Commands() {
			if c.IsAvailableCommand() {
				fmt.Fprintf(w, "  %-10s %s\n", c.Name(), c.Short)
			}
		}
	}
}

// flagUsages lists the flags of fs, one per line with its value's name,
// its usage wrapped under it, and its default when that is not the zero
// value.
func flagUsages(w io.Writer, fs *pflag.FlagSet) {
	type line struct{ left, usage string }
	var lines []line
	width := 0
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		left := "      --" + f.Name
		if f.Shorthand != "" {
			left = "  -" + f.Shorthand + ", --" + f.Name
		}
		name, text := pflag.UnquoteUsage(f)
		if f.Value.Type() != "bool" && name != "" {
			left += " " + name
		}
		switch f.DefValue {
		case "", "0", "false":
		default:
			if f.Value.Type() == "string" {
				text += fmt.Sprintf(" (default %q)", f.DefValue)
			} else {
				text += " (default " + f.DefValue + ")"
			}
		}
		lines = append(lines, line{left, text})
		width = max(width, utf8.RuneCountInString(left))
	})
	const columns = 110
	for _, l := range lines {
		pad := strings.Repeat(" ", width-utf8.RuneCountInString(l.left)+3)
		fmt.Fprintf(w, "%s%s%s\n", l.left, pad, wrap(l.usage, columns-width-3, width+3))
	}
}

// wrap breaks text into lines of at most cols runes, indenting every line
// after the first by indent spaces.
func wrap(text string, cols, indent int) string {
	var b strings.Builder
	n := 0
	for i, word := range strings.Fields(text) {
		k := utf8.RuneCountInString(word)
		if i > 0 && n+1+k > max(cols, 30) {
			b.WriteString("\n" + strings.Repeat(" ", indent))
			n = 0
		} else if i > 0 {
			b.WriteByte(' ')
			n++
		}
		b.WriteString(word)
		n += k
	}
	return b.String()
}
