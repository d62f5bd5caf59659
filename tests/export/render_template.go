// Renders an Ollama TEMPLATE with Go's text/template, as Ollama does: reads
// {"template": "...", "data": {"System": ..., "Messages": [{"Role", "Content"}], "Prompt": ...}}
// from stdin and writes the text to stdout.
package main

import (
	"encoding/json"
	"os"
	"text/template"
)

type Message struct {
	Role    string
	Content string
}

type Data struct {
	System   string
	Prompt   string
	Response string
	Messages []Message
}

type Input struct {
	Template string
	Data     Data
}

func main() {
	var in Input
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		panic(err)
	}
	tmpl := template.Must(template.New("t").Parse(in.Template))
	if err := tmpl.Execute(os.Stdout, in.Data); err != nil {
		panic(err)
	}
}
