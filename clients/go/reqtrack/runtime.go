// The client's transport and answer check, standard library only.
// Copied from scripts/clients/templates/runtime.go by `npm run clients`; edit it there.

package reqtrack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// ApiError is an error answer of the API: its HTTP status and the document's Error body.
// Code is the stable error code (RT_ERR_...), Field the input at fault for a 400.
type ApiError struct {
	Status  int
	Code    string
	Message string
	Field   string
	Body    Error
}

func (e *ApiError) Error() string {
	where := ""
	if e.Field != "" {
		where = " (field " + e.Field + ")"
	}
	return fmt.Sprintf("%d %s: %s%s", e.Status, e.Code, e.Message, where)
}

// ResponseMismatch is an answer the OpenAPI document does not describe (status or body).
type ResponseMismatch struct {
	Operation string
	Problem   string
}

func (e *ResponseMismatch) Error() string { return e.Operation + ": " + e.Problem }

// Client calls a reqtrack server at BaseURL with APIKey as a Bearer token.
type Client struct {
	BaseURL    string
	APIKey     string
	HTTPClient *http.Client
	// Header is sent with every call (e.g. X-Request-ID).
	Header http.Header
}

// NewClient returns a client of the server at baseURL (e.g. "http://127.0.0.1:7600").
func NewClient(baseURL, apiKey string) *Client {
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), APIKey: apiKey, HTTPClient: http.DefaultClient}
}

// String, Int, Float and Bool return a pointer to v, for optional fields and parameters.
func String(v string) *string  { return &v }
func Int(v int64) *int64       { return &v }
func Float(v float64) *float64 { return &v }
func Bool(v bool) *bool        { return &v }

var (
	shapesOnce sync.Once
	shapes     map[string]interface{}
)

func shape(name string) map[string]interface{} {
	shapesOnce.Do(func() {
		if err := json.Unmarshal([]byte(shapesJSON), &shapes); err != nil {
			panic(err)
		}
	})
	return map[string]interface{}{"$ref": name}
}

func listOf(name string) map[string]interface{} {
	return map[string]interface{}{"type": "array", "items": shape(name)}
}

func isType(kind string, value interface{}) bool {
	switch kind {
	case "string":
		_, ok := value.(string)
		return ok
	case "number":
		_, ok := value.(json.Number)
		return ok
	case "integer":
		n, ok := value.(json.Number)
		return ok && !strings.ContainsAny(string(n), ".eE")
	case "boolean":
		_, ok := value.(bool)
		return ok
	case "null":
		return value == nil
	case "object":
		_, ok := value.(map[string]interface{})
		return ok
	case "array":
		_, ok := value.([]interface{})
		return ok
	}
	return false
}

// problem says what is wrong with value for schema (a reduced schema of shapesJSON), or "".
func problem(value interface{}, schema map[string]interface{}, at string) string {
	if ref, ok := schema["$ref"].(string); ok {
		return problem(value, shapes[ref].(map[string]interface{}), at)
	}
	if members, ok := schema["anyOf"].([]interface{}); ok {
		found := []string{}
		for _, member := range members {
			if p := problem(value, member.(map[string]interface{}), at); p != "" {
				found = append(found, p)
			}
		}
		if len(found) == len(members) {
			return fmt.Sprintf("%s: matches no member of anyOf: %v", at, found)
		}
	}
	if kinds, ok := schema["type"]; ok {
		list, isList := kinds.([]interface{})
		if !isList {
			list = []interface{}{kinds}
		}
		matched := false
		for _, kind := range list {
			matched = matched || isType(kind.(string), value)
		}
		if !matched {
			return fmt.Sprintf("%s: expected %v, got %T", at, kinds, value)
		}
	}
	if allowed, ok := schema["enum"].([]interface{}); ok {
		matched := false
		for _, candidate := range allowed {
			matched = matched || candidate == value
		}
		if !matched {
			return fmt.Sprintf("%s: %v is not one of %v", at, value, allowed)
		}
	}
	if object, ok := value.(map[string]interface{}); ok {
		properties, _ := schema["properties"].(map[string]interface{})
		required, _ := schema["required"].([]interface{})
		for _, key := range required {
			if _, present := object[key.(string)]; !present {
				return fmt.Sprintf("%s: missing required key %q", at, key)
			}
		}
		for key, child := range object {
			if property, known := properties[key]; known {
				if p := problem(child, property.(map[string]interface{}), at+"."+key); p != "" {
					return p
				}
			} else if extra, isSchema := schema["additionalProperties"].(map[string]interface{}); isSchema {
				if p := problem(child, extra, at+"."+key); p != "" {
					return p
				}
			} else if schema["additionalProperties"] == false {
				return fmt.Sprintf("%s: unknown key %q", at, key)
			}
		}
	}
	if array, ok := value.([]interface{}); ok {
		if items, has := schema["items"].(map[string]interface{}); has {
			for index, item := range array {
				if p := problem(item, items, fmt.Sprintf("%s[%d]", at, index)); p != "" {
					return p
				}
			}
		}
	}
	return ""
}

// decode checks raw against want, then reads it into out.
func decode(operation string, raw []byte, want map[string]interface{}, out interface{}) error {
	reader := json.NewDecoder(bytes.NewReader(raw))
	reader.UseNumber()
	var value interface{}
	if err := reader.Decode(&value); err != nil {
		return &ResponseMismatch{operation, "the answer is not JSON: " + err.Error()}
	}
	if p := problem(value, want, "$"); p != "" {
		return &ResponseMismatch{operation, p}
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return &ResponseMismatch{operation, err.Error()}
	}
	return nil
}

// call sends one call. An error answer is an *ApiError; an answer the document does not
// describe is a *ResponseMismatch; out (nil for none) receives the checked answer.
func (c *Client) call(ctx context.Context, operation, method, path string, query url.Values, body interface{}, expect int, want map[string]interface{}, out interface{}) error {
	target := c.BaseURL + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	var payload io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		payload = bytes.NewReader(data)
	}
	request, err := http.NewRequestWithContext(ctx, method, target, payload)
	if err != nil {
		return err
	}
	for name, values := range c.Header {
		request.Header[name] = values
	}
	request.Header.Set("Accept", "application/json")
	if body != nil {
		request.Header.Set("Content-Type", "application/json")
	}
	if c.APIKey != "" {
		request.Header.Set("Authorization", "Bearer "+c.APIKey)
	}
	httpClient := c.HTTPClient
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	response, err := httpClient.Do(request)
	if err != nil {
		return err
	}
	defer response.Body.Close()
	raw, err := io.ReadAll(response.Body)
	if err != nil {
		return err
	}
	if response.StatusCode >= 400 {
		var body Error
		if err := decode(operation, raw, shape("Error"), &body); err != nil {
			return err
		}
		apiError := &ApiError{Status: response.StatusCode, Code: string(body.Code), Message: body.Message, Body: body}
		if body.Field != nil {
			apiError.Field = *body.Field
		}
		return apiError
	}
	if response.StatusCode != expect {
		return &ResponseMismatch{operation, fmt.Sprintf("status %d, the document says %d", response.StatusCode, expect)}
	}
	if out == nil {
		return nil
	}
	return decode(operation, raw, want, out)
}
