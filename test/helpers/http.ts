// An undici response read whole: status, body text and, when the body is JSON, the parsed body.
import type { Dispatcher } from 'undici';

export interface HttpAnswer {
  status: number;
  /** The body parsed as JSON; undefined when it is not JSON. */
  json: any;
  text: string;
}

export async function readAnswer(res: Dispatcher.ResponseData): Promise<HttpAnswer> {
  const text = await res.body.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, json, text };
}
