//! `/channels/{id}/feed.json` (JSON Feed 1.1) and `/channels/{id}/rss`
//! (RSS 2.0): a channel's newest events for feed readers and simple polling
//! tools. Same access as polling.

use std::sync::Arc;

use poem::Request;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::Path,
    payload::{Json, PlainText},
};

use super::{ApiTags, presented_token, problem::ApiError, request_origin};
use crate::{
    hub::Hub,
    model::{Channel, Event, parse_rfc3339},
};

/// Events in a feed.
const FEED_SIZE: u32 = 50;

/// A JSON Feed 1.1 document.
#[derive(Debug, Object)]
pub struct JsonFeed {
    /// Always `https://jsonfeed.org/version/1.1`.
    pub version: String,
    pub title: String,
    pub description: String,
    pub feed_url: String,
    pub items: Vec<JsonFeedItem>,
}

/// One event as a JSON Feed item; `_channelhub` holds the event itself.
#[derive(Debug, Object)]
pub struct JsonFeedItem {
    pub id: String,
    pub url: String,
    pub title: String,
    /// The event's `data` as JSON text.
    pub content_text: String,
    pub date_published: String,
    pub tags: Vec<String>,
    #[oai(rename = "_channelhub")]
    pub event: Event,
}

#[derive(ApiResponse)]
pub enum RssFeed {
    #[oai(status = 200, content_type = "application/rss+xml; charset=utf-8")]
    Feed(PlainText<String>),
}

pub struct FeedsApi {
    pub hub: Arc<Hub>,
}

/// The server's own base URL, as the client reached it.
fn base_url(req: &Request) -> String {
    format!("{}/api/v1", request_origin(req))
}

fn title_of(event: &Event) -> String {
    event
        .event_type
        .clone()
        .unwrap_or_else(|| "event".to_owned())
}

fn rss_document(base: &str, channel: &Channel, events: &[Event]) -> String {
    let items = events
        .iter()
        .map(|event| {
            let link = format!("{base}/channels/{}/events/{}", channel.id, event.id);
            let published = parse_rfc3339(&event.created_at)
                .and_then(chrono::DateTime::from_timestamp_millis)
                .map(|t| t.to_rfc2822());
            let mut item = rss::Item::default();
            item.set_title(title_of(event));
            item.set_link(link);
            item.set_description(event.data.to_string());
            item.set_guid(rss::Guid {
                value: event.id.clone(),
                permalink: false,
            });
            item.set_pub_date(published);
            item
        })
        .collect::<Vec<_>>();
    let mut document = rss::Channel::default();
    document.set_title(channel.name.clone());
    document.set_link(format!("{base}/channels/{}", channel.id));
    document.set_description(channel.description.clone());
    document.set_items(items);
    document.to_string()
}

#[OpenApi(tag = "ApiTags::Feeds")]
impl FeedsApi {
    /// The newest 50 events as a JSON Feed 1.1, newest first.
    #[oai(path = "/channels/:channel_id/feed.json", method = "get")]
    async fn json_feed(
        &self,
        req: &Request,
        channel_id: Path<String>,
    ) -> Result<Json<JsonFeed>, ApiError> {
        let (channel, events) = self
            .hub
            .feed(&channel_id, presented_token(req).as_deref(), FEED_SIZE)
            .await?;
        let base = base_url(req);
        let items = events
            .into_iter()
            .map(|event| JsonFeedItem {
                id: event.id.clone(),
                url: format!("{base}/channels/{}/events/{}", channel.id, event.id),
                title: title_of(&event),
                content_text: event.data.to_string(),
                date_published: event.created_at.clone(),
                tags: event.event_type.iter().cloned().collect(),
                event,
            })
            .collect();
        Ok(Json(JsonFeed {
            version: "https://jsonfeed.org/version/1.1".to_owned(),
            title: channel.name.clone(),
            description: channel.description.clone(),
            feed_url: format!("{base}/channels/{}/feed.json", channel.id),
            items,
        }))
    }

    /// The newest 50 events as an RSS 2.0 feed, newest first.
    #[oai(path = "/channels/:channel_id/rss", method = "get")]
    async fn rss(&self, req: &Request, channel_id: Path<String>) -> Result<RssFeed, ApiError> {
        let (channel, events) = self
            .hub
            .feed(&channel_id, presented_token(req).as_deref(), FEED_SIZE)
            .await?;
        Ok(RssFeed::Feed(PlainText(rss_document(
            &base_url(req),
            &channel,
            &events,
        ))))
    }
}
