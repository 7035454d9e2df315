// A Go app's calls through the generated client (clients/go/reqtrack).
//
// Usage: go run . BASE_URL API_KEY [REQUEST_ID]
// Prints a JSON summary; any answer the document does not describe is a
// *reqtrack.ResponseMismatch and ends the program with exit status 1. With REQUEST_ID it
// only reads that request.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"reqtrack"
)

func must[T any](value T, err error) T {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	return value
}

func check(err error) {
	must(struct{}{}, err)
}

// apiError returns the coded error of a call that must fail.
func apiError(err error) *reqtrack.ApiError {
	var coded *reqtrack.ApiError
	if !errors.As(err, &coded) {
		fmt.Fprintln(os.Stderr, "expected an ApiError, got", err)
		os.Exit(1)
	}
	return coded
}

func main() {
	ctx := context.Background()
	client := reqtrack.NewClient(os.Args[1], os.Args[2])
	if len(os.Args) > 3 {
		check(json.NewEncoder(os.Stdout).Encode(must(client.GetRequest(ctx, os.Args[3]))))
		return
	}

	created := must(client.CreateRequest(ctx, &reqtrack.CreateRequestBody{
		UserID: "user-go", Kind: reqtrack.String("go_client"), Tags: []string{"go"},
	}))
	started := must(client.TransitionRequest(ctx, created.ID, &reqtrack.TransitionRequestBody{
		To: reqtrack.RequestStatusRunning, WorkerID: reqtrack.String("w-go"),
	}))
	check(client.ChangeStage(ctx, created.ID, "render", "start", nil))
	check(client.LogEvent(ctx, created.ID, &reqtrack.LogEventBody{
		Type: "progress", Message: reqtrack.String("half way"), Stage: reqtrack.String("render"),
	}))
	check(client.RecordCost(ctx, created.ID, &reqtrack.RecordCostBody{
		Service: "openai", AmountUsd: reqtrack.Float(0.25), Usage: map[string]int{"tokens": 12},
	}))
	check(client.ChangeStage(ctx, created.ID, "render", "complete", &reqtrack.ChangeStageBody{
		Output: map[string]int{"frames": 24},
	}))
	done := must(client.TransitionRequest(ctx, created.ID, &reqtrack.TransitionRequestBody{
		To: reqtrack.RequestStatusCompleted, Result: map[string]string{"url": "v.mp4"},
	}))
	detail := must(client.GetRequest(ctx, created.ID))
	events := must(client.ListEvents(ctx, created.ID))
	page := must(client.ListRequests(ctx, &reqtrack.ListRequestsQuery{
		Kind: reqtrack.String("go_client"), Status: reqtrack.String("completed"), Limit: reqtrack.Int(10),
	}))
	overview := must(client.StatsOverview(ctx, nil))

	_, err := client.GetRequest(ctx, "req_nope")
	missing := apiError(err)
	_, err = client.CreateRequest(ctx, &reqtrack.CreateRequestBody{Kind: reqtrack.String("go_client")})
	invalid := apiError(err)

	stages := [][]interface{}{}
	for _, stage := range detail.Stages {
		stages = append(stages, []interface{}{stage.Name, stage.Status, stage.Output})
	}
	costs := [][]interface{}{}
	for _, cost := range detail.Costs {
		costs = append(costs, []interface{}{cost.Service, cost.AmountUsd})
	}
	progress := []string{}
	for _, event := range events.Items {
		if event.Type == "progress" {
			progress = append(progress, event.Type)
		}
	}
	listed := []bool{}
	for _, item := range page.Items {
		listed = append(listed, item.ID == created.ID)
	}
	summary := map[string]interface{}{
		"created":  []interface{}{created.Status, created.TenantID, created.Kind},
		"started":  []interface{}{started.Status, started.WorkerID},
		"done":     []interface{}{done.Status, done.Result},
		"detail":   []interface{}{true, detail.Status, stages, costs, detail.CostUsd},
		"events":   progress,
		"listed":   listed,
		"overview": []interface{}{overview.Total, overview.CountsByStatus.Completed},
		"errors": map[string]interface{}{
			"missing": []interface{}{missing.Status, missing.Code},
			"invalid": []interface{}{invalid.Status, invalid.Code, invalid.Field},
		},
	}
	check(json.NewEncoder(os.Stdout).Encode(summary))
}
