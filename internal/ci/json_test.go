package ci

import "encoding/json"

func parseJSON(data []byte) (map[string]string, error) {
	var m map[string]string
	err := json.Unmarshal(data, &m)
	return m, err
}
