package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/marketing-data/wistia-pipeline/internal/config"
)

// Alert is one failed run, as sent to the operators.
type Alert struct {
	Workflow   string `json:"workflow"` // DailyRunWorkflow, BackfillWorkflow
	Date       string `json:"date"`     // the logical date, or the backfill's range
	Step       string `json:"step"`     // the phase that failed
	Error      string `json:"error"`
	WorkflowID string `json:"workflow_id"`
	RunID      string `json:"run_id"`
}

// AlertConfig says where alerts go; with neither set, failures are only logged.
type AlertConfig struct {
	WebhookURL  config.Secret `envconfig:"ALERT_WEBHOOK_URL"` // Slack-compatible incoming webhook; its path is a credential
	SNSTopicARN string        `envconfig:"ALERT_SNS_TOPIC_ARN"`
	// SNSEndpoint replaces SNS's regional endpoint (a VPC endpoint, or an emulator in tests).
	SNSEndpoint string `envconfig:"ALERT_SNS_ENDPOINT"`
	UIURL       string `envconfig:"TEMPORAL_UI_URL" default:"http://localhost:8233"`
}

// Validate reports every bad value.
func (c AlertConfig) Validate() []error {
	var errs []error
	if u, err := url.Parse(c.WebhookURL.Reveal()); c.WebhookURL.IsSet() && (err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "") {
		errs = append(errs, config.Invalid("ALERT_WEBHOOK_URL", c.WebhookURL, "an http(s) URL"))
	}
	if u, err := url.Parse(c.SNSEndpoint); c.SNSEndpoint != "" && (err != nil || u.Host == "") {
		errs = append(errs, config.Invalid("ALERT_SNS_ENDPOINT", config.URL(c.SNSEndpoint), "an http(s) URL"))
	}
	if u, err := url.Parse(c.UIURL); err != nil || u.Host == "" {
		errs = append(errs, config.Invalid("TEMPORAL_UI_URL", config.URL(c.UIURL), "the Temporal Web UI's base URL"))
	}
	return errs
}

// Alerter sends alerts to a webhook and/or an SNS topic.
type Alerter struct {
	cfg       AlertConfig
	namespace string
	http      *http.Client
	sns       *sns.Client
}

// NewAlerter builds an alerter; snsClient may be nil when no topic is configured.
func NewAlerter(cfg AlertConfig, namespace string, snsClient *sns.Client) *Alerter {
	return &Alerter{cfg: cfg, namespace: namespace, http: &http.Client{Timeout: 15 * time.Second}, sns: snsClient}
}

// Link is the run's page in the Temporal Web UI.
func (a *Alerter) Link(al Alert) string {
	return fmt.Sprintf("%s/namespaces/%s/workflows/%s/%s/history", a.cfg.UIURL, url.PathEscape(a.namespace),
		url.PathEscape(al.WorkflowID), url.PathEscape(al.RunID))
}

// Text renders an alert for people.
func (a *Alerter) Text(al Alert) string {
	return fmt.Sprintf(":rotating_light: Wistia pipeline %s for %s failed at step %q: %s\n%s",
		al.Workflow, al.Date, al.Step, al.Error, a.Link(al))
}

// Send delivers the alert to every configured destination.
func (a *Alerter) Send(ctx context.Context, al Alert) error {
	text := a.Text(al)
	var errs []error
	if a.cfg.WebhookURL.IsSet() {
		body, _ := json.Marshal(map[string]string{"text": text})
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.cfg.WebhookURL.Reveal(), bytes.NewReader(body))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
			var resp *http.Response
			if resp, err = a.http.Do(req); err == nil {
				resp.Body.Close()
				if resp.StatusCode >= 300 {
					err = fmt.Errorf("status %d", resp.StatusCode)
				}
			}
		}
		if err != nil {
			// The URL is a credential: name the destination, never the URL.
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err
			}
			errs = append(errs, fmt.Errorf("alert webhook: %w", err))
		}
	}
	if a.cfg.SNSTopicARN != "" && a.sns != nil {
		_, err := a.sns.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(a.cfg.SNSTopicARN),
			Subject: aws.String(fmt.Sprintf("Wistia pipeline %s failed", al.Date)), Message: aws.String(text)})
		if err != nil {
			errs = append(errs, fmt.Errorf("alert SNS topic %s: %w", a.cfg.SNSTopicARN, err))
		}
	}
	return errors.Join(errs...)
}

// Notify sends an alert for a failed run.
func (a *Activities) Notify(ctx context.Context, al Alert) error {
	if a.Alerts == nil {
		return nil
	}
	return a.Alerts.Send(ctx, al)
}
