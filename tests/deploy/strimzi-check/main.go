// Command strimzi-check decodes Strimzi kafka.strimzi.io/v1 resources strictly
// into the typed models of github.com/scholzj/strimzi-go.
//
// It reads one or more multi-document YAML files (or stdin when none is
// given), picks every document whose apiVersion is kafka.strimzi.io/v1 and
// decodes it with unknown and duplicate fields rejected and field names
// matched case-sensitively. Documents of other API groups are ignored. It
// prints one line per checked document and exits 1 when any document fails.
//
//	go build -o ../../../.tools/bin/strimzi-check . && strimzi-check rendered.yaml
package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	kafkav1 "github.com/scholzj/strimzi-go/pkg/apis/kafka.strimzi.io/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	strictjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

const apiVersion = "kafka.strimzi.io/v1"

func newObject(kind string) (any, bool) {
	switch kind {
	case "Kafka":
		return &kafkav1.Kafka{}, true
	case "KafkaNodePool":
		return &kafkav1.KafkaNodePool{}, true
	case "KafkaTopic":
		return &kafkav1.KafkaTopic{}, true
	case "KafkaUser":
		return &kafkav1.KafkaUser{}, true
	case "KafkaConnect":
		return &kafkav1.KafkaConnect{}, true
	case "KafkaConnector":
		return &kafkav1.KafkaConnector{}, true
	case "KafkaBridge":
		return &kafkav1.KafkaBridge{}, true
	case "KafkaMirrorMaker2":
		return &kafkav1.KafkaMirrorMaker2{}, true
	case "KafkaRebalance":
		return &kafkav1.KafkaRebalance{}, true
	}
	return nil, false
}

type header struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
}

// check returns the number of Strimzi documents checked and the failures.
func check(name string, r io.Reader) (int, []string) {
	var failures []string
	checked := 0
	reader := utilyaml.NewYAMLReader(bufio.NewReader(r))
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return checked, append(failures, fmt.Sprintf("%s: reading YAML: %v", name, err))
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		data, err := yaml.YAMLToJSON(doc)
		if err != nil {
			failures = append(failures, fmt.Sprintf("%s: YAML to JSON: %v", name, err))
			continue
		}
		if string(data) == "null" {
			continue
		}
		var h header
		if err := strictjson.UnmarshalCaseSensitivePreserveInts(data, &h); err != nil {
			failures = append(failures, fmt.Sprintf("%s: header: %v", name, err))
			continue
		}
		if h.APIVersion != apiVersion {
			continue
		}
		id := fmt.Sprintf("%s %s/%s", name, h.Kind, h.Metadata.Name)
		obj, ok := newObject(h.Kind)
		if !ok {
			failures = append(failures, fmt.Sprintf("%s: unknown kind %q for %s", id, h.Kind, apiVersion))
			continue
		}
		checked++
		strictErrs, err := strictjson.UnmarshalStrict(data, obj,
			strictjson.DisallowUnknownFields, strictjson.DisallowDuplicateFields)
		if err != nil {
			failures = append(failures, fmt.Sprintf("%s: %v", id, err))
			continue
		}
		if len(strictErrs) > 0 {
			for _, e := range strictErrs {
				failures = append(failures, fmt.Sprintf("%s: %v", id, e))
			}
			continue
		}
		fmt.Printf("ok %s\n", id)
	}
	return checked, failures
}

func main() {
	var failures []string
	total := 0
	if len(os.Args) < 2 {
		n, f := check("<stdin>", os.Stdin)
		total += n
		failures = append(failures, f...)
	}
	for _, path := range os.Args[1:] {
		fh, err := os.Open(path)
		if err != nil {
			failures = append(failures, err.Error())
			continue
		}
		n, f := check(path, fh)
		_ = fh.Close()
		total += n
		failures = append(failures, f...)
	}
	for _, f := range failures {
		fmt.Fprintf(os.Stderr, "FAIL %s\n", f)
	}
	fmt.Printf("%d Strimzi documents checked, %d failures\n", total, len(failures))
	if len(failures) > 0 {
		os.Exit(1)
	}
}
