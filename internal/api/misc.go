package api

import (
	"context"
	"net/http"
	"time"

	"github.com/tealdb/teal/internal/rds"
)

type addTagsInput struct {
	ResourceName string     `query:",required,arn=db|pg|cluster|cluster-pg|cluster-endpoint|subgrp|secgrp|og|snapshot"`
	Tags         []tagInput `query:"Tags.Tag,required"`
}

func (a *API) addTagsToResource(ctx context.Context, in *addTagsInput) (noResult, error) {
	return noResult{}, a.svc.AddTagsToResource(ctx, in.ResourceName, tagsOf(in.Tags))
}

type resourceNameInput struct {
	ResourceName string `query:",required,arn=db|pg|cluster|cluster-pg|cluster-endpoint|subgrp|secgrp|og|snapshot"`
}

func (a *API) listTagsForResource(ctx context.Context, in *resourceNameInput) (listTagsForResourceResult, error) {
	tags, err := a.svc.ListTagsForResource(ctx, in.ResourceName)
	if err != nil {
		return listTagsForResourceResult{}, err
	}
	return listTagsForResourceResult{TagList: tagsXML(tags)}, nil
}

type removeTagsInput struct {
	ResourceName string   `query:",required,arn=db|pg|cluster|cluster-pg|cluster-endpoint|subgrp|secgrp|og|snapshot"`
	TagKeys      []string `query:"TagKeys.member,required"`
}

func (a *API) removeTagsFromResource(ctx context.Context, in *removeTagsInput) (noResult, error) {
	return noResult{}, a.svc.RemoveTagsFromResource(ctx, in.ResourceName, in.TagKeys)
}

type describeEventsInput struct {
	SourceIdentifier string
	SourceType       string
	StartTime        time.Time
	EndTime          time.Time
	Duration         int
	EventCategories  []string `query:"EventCategories.EventCategory"`
	MaxRecords       int
	Marker           string
}

func (a *API) describeEvents(ctx context.Context, in *describeEventsInput) (describeEventsResult, error) {
	events, marker, err := a.svc.DescribeEvents(ctx, rds.EventsInput{
		SourceIdentifier: in.SourceIdentifier, SourceType: in.SourceType,
		StartTime: in.StartTime, EndTime: in.EndTime, Duration: in.Duration,
		EventCategories: in.EventCategories,
		Page:            rds.Page{Marker: in.Marker, MaxRecords: in.MaxRecords},
	})
	if err != nil {
		return describeEventsResult{}, err
	}
	return describeEventsResult{Marker: marker, Events: eventsOf(events)}, nil
}

// The Teal*AccessKey actions manage the access keys other than root. Their
// answers follow the RDS style:
//
//	TealCreateAccessKey(PolicyDocument, Description) →
//	  <TealCreateAccessKeyResult><AccessKey><AccessKeyId/><SecretAccessKey/>
//	  <Description/><PolicyDocument/><CreateDate/></AccessKey></…>
//	TealListAccessKeys → <AccessKeys><AccessKey>… without SecretAccessKey
//	TealDeleteAccessKey(AccessKeyId) → ResponseMetadata only

type createAccessKeyInput struct {
	PolicyDocument string `query:",required"`
	Description    string
}

func (a *API) keyring() (Keys, error) {
	if a.keys == nil {
		return nil, &rds.Fault{Code: "InvalidAction", Status: http.StatusBadRequest,
			Message: "This server does not manage access keys."}
	}
	return a.keys, nil
}

func (a *API) createAccessKey(ctx context.Context, in *createAccessKeyInput) (createAccessKeyResult, error) {
	keys, err := a.keyring()
	if err != nil {
		return createAccessKeyResult{}, err
	}
	k, err := keys.CreateKey(ctx, []byte(in.PolicyDocument), in.Description)
	if err != nil {
		return createAccessKeyResult{}, err
	}
	return createAccessKeyResult{AccessKey: accessKeyOf(k)}, nil
}

func (a *API) listAccessKeys(ctx context.Context, _ *struct{}) (listAccessKeysResult, error) {
	keys, err := a.keyring()
	if err != nil {
		return listAccessKeysResult{}, err
	}
	list, err := keys.ListKeys(ctx)
	if err != nil {
		return listAccessKeysResult{}, err
	}
	out := make([]accessKeyXML, len(list))
	for i, k := range list {
		k.SecretAccessKey = "" // shown once, at creation
		out[i] = accessKeyOf(k)
	}
	return listAccessKeysResult{AccessKeys: listOf("AccessKey", out)}, nil
}

type accessKeyIDInput struct {
	AccessKeyId string `query:",required"`
}

func (a *API) deleteAccessKey(ctx context.Context, in *accessKeyIDInput) (noResult, error) {
	keys, err := a.keyring()
	if err != nil {
		return noResult{}, err
	}
	return noResult{}, keys.DeleteKey(ctx, in.AccessKeyId)
}
