package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/smithy-go"
)

// The blue/green commands take --wait: after the call, follow the
// deployment until the command's work is done, showing its tasks, lag and
// switchover phase as they change.

// bgdWaitTimeout bounds a --wait; a large initial copy takes a while.
const bgdWaitTimeout = 6 * time.Hour

func isBlueGreenOp(name string) bool {
	switch name {
	case "create-blue-green-deployment", "switchover-blue-green-deployment", "delete-blue-green-deployment":
		return true
	}
	return false
}

func waitFlag(p *bool) *flagDef {
	return &flagDef{name: "wait", usage: "follow the deployment until this command's work is done, showing its progress",
		set: func([]string) error { *p = true; return nil }}
}

// deploymentOf is the deployment a blue/green command answered with.
func deploymentOf(res any) *types.BlueGreenDeployment {
	switch r := res.(type) {
	case *rds.CreateBlueGreenDeploymentOutput:
		return r.BlueGreenDeployment
	case *rds.SwitchoverBlueGreenDeploymentOutput:
		return r.BlueGreenDeployment
	case *rds.DeleteBlueGreenDeploymentOutput:
		return r.BlueGreenDeployment
	}
	return nil
}

// followDeployment polls the deployment until the command's goal: AVAILABLE
// after create, SWITCHOVER_COMPLETED after switchover, gone after delete.
func followDeployment(ctx context.Context, c *rds.Client, cmd string, d *types.BlueGreenDeployment, p *progress) error {
	if d == nil || d.BlueGreenDeploymentIdentifier == nil {
		return errors.New("the answer names no deployment to follow")
	}
	id := *d.BlueGreenDeploymentIdentifier
	ctx, cancel := context.WithTimeout(ctx, bgdWaitTimeout)
	defer cancel()
	start := time.Now()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		out, err := c.DescribeBlueGreenDeployments(ctx, &rds.DescribeBlueGreenDeploymentsInput{BlueGreenDeploymentIdentifier: aws.String(id)})
		var api smithy.APIError
		if errors.As(err, &api) && api.ErrorCode() == "BlueGreenDeploymentNotFoundFault" && cmd == "delete-blue-green-deployment" {
			p.set(id+": deleted", time.Since(start))
			p.finish()
			return nil
		}
		if err != nil {
			p.finish()
			return err
		}
		dep := out.BlueGreenDeployments[0]
		p.set(deploymentLine(dep), time.Since(start))
		status := str(dep.Status)
		switch {
		case cmd == "create-blue-green-deployment" && status == "AVAILABLE",
			cmd == "switchover-blue-green-deployment" && status == "SWITCHOVER_COMPLETED":
			p.finish()
			return nil
		case status == "INVALID_CONFIGURATION", status == "SWITCHOVER_FAILED" && cmd == "switchover-blue-green-deployment":
			p.finish()
			return fmt.Errorf("%s: %s: %s", id, status, str(dep.StatusDetails))
		}
		select {
		case <-ctx.Done():
			p.finish()
			return fmt.Errorf("%s is still %s: %w", id, status, ctx.Err())
		case <-tick.C:
		}
	}
}

// deploymentLine shows a deployment's state in one line: its status, the
// task under way, and the details (lag, switchover phase, reason).
func deploymentLine(d types.BlueGreenDeployment) string {
	parts := []string{str(d.BlueGreenDeploymentIdentifier) + ": " + str(d.Status)}
	var done, all int
	current := ""
	for _, t := range d.Tasks {
		all++
		switch str(t.Status) {
		case "COMPLETED":
			done++
		case "IN_PROGRESS", "FAILED":
			current = str(t.Name) + " " + strings.ToLower(str(t.Status))
		}
	}
	if all > 0 {
		task := fmt.Sprintf("tasks %d/%d", done, all)
		if current != "" {
			task += " (" + current + ")"
		}
		parts = append(parts, task)
	}
	if s := str(d.StatusDetails); s != "" {
		parts = append(parts, s)
	}
	return strings.Join(parts, " | ")
}
