package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/marketing-data/wistia-pipeline/config"
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
	return a.deliver(ctx, fmt.Sprintf("Wistia pipeline %s failed", al.Date), a.Text(al))
}

// SendTest delivers a message saying it is a test to every configured destination.
func (a *Alerter) SendTest(ctx context.Context, text string) error {
	return a.deliver(ctx, "Wistia pipeline test alert", text)
}

// ErrNoSubscriber is a topic nobody subscribes to: its alerts reach no one.
var ErrNoSubscriber = errors.New("nobody is subscribed")

// Reachable proves each configured destination answers without sending to it: the topic's
// subscriptions are listed (the caller may see the topic, and someone is subscribed), and the
// webhook's host accepts a connection. It says which destinations it checked.
func (a *Alerter) Reachable(ctx context.Context) ([]string, error) {
	var checked []string
	var errs []error
	if a.cfg.WebhookURL.IsSet() {
		u, _ := url.Parse(a.cfg.WebhookURL.Reveal()) // Validate has parsed it
		port := u.Port()
		if port == "" {
			port = map[string]string{"https": "443", "http": "80"}[u.Scheme]
		}
		conn, err := (&net.Dialer{Timeout: 10 * time.Second}).DialContext(ctx, "tcp", net.JoinHostPort(u.Hostname(), port))
		if err == nil {
			conn.Close()
			checked = append(checked, "webhook host "+u.Hostname())
		} else {
			errs = append(errs, fmt.Errorf("alert webhook host %s: %w", u.Hostname(), err))
		}
	}
	if a.cfg.SNSTopicARN != "" && a.sns != nil {
		// Listing the subscriptions reads the topic without publishing, and says whether a
		// message would reach anyone.
		out, err := a.sns.ListSubscriptionsByTopic(ctx, &sns.ListSubscriptionsByTopicInput{TopicArn: aws.String(a.cfg.SNSTopicARN)})
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("alert SNS topic %s: %w", a.cfg.SNSTopicARN, err))
		case len(out.Subscriptions) == 0:
			errs = append(errs, fmt.Errorf("alert SNS topic %s: %w", a.cfg.SNSTopicARN, ErrNoSubscriber))
		default:
			checked = append(checked, fmt.Sprintf("SNS topic %s (%d subscriptions)", a.cfg.SNSTopicARN, len(out.Subscriptions)))
		}
	}
	return checked, errors.Join(errs...)
}

// deliver sends subject (where the destination has one) and text to every destination.
func (a *Alerter) deliver(ctx context.Context, subject, text string) error {
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
			Subject: aws.String(subject), Message: aws.String(text)})
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
