// The REST API's OpenAPI 3 document, served at /api/v1/openapi.json. Kept in step with
// routes.cpp by hand (test/rest_api_test.sh checks that every route it exercises is listed).
#include "api/rest/rest_api.hpp"

namespace arroyo {

const char* rest_openapi_document() {
  return R"json({
  "openapi": "3.0.3",
  "info": {
    "title": "arroyo_stream REST API",
    "version": "0.4.0",
    "description": "Streaming SQL pipelines inside PostgreSQL. Every request runs as the PostgreSQL role its bearer token belongs to (tokens: SELECT stream_api_token_create('name')), through the SQL API (stream_create, stream_start, stream_stop, stream_drop). Errors carry PostgreSQL's SQLSTATE."
  },
  "servers": [{"url": "/api/v1"}],
  "security": [{"bearer": []}],
  "paths": {
    "/pipelines": {
      "get": {
        "summary": "List the database's pipelines (the stream_pipelines view)",
        "operationId": "list_pipelines",
        "responses": {
          "200": {"description": "The pipelines", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PipelineList"}}}},
          "401": {"$ref": "#/components/responses/Error"}
        }
      },
      "post": {
        "summary": "Create a pipeline and start it (stream_create, then stream_start, in one transaction)",
        "operationId": "create_pipeline",
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PipelinePost"}}}},
        "responses": {
          "201": {"description": "Created and started", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pipeline"}}}},
          "400": {"$ref": "#/components/responses/Error"},
          "401": {"$ref": "#/components/responses/Error"},
          "403": {"$ref": "#/components/responses/Error"},
          "409": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/pipelines/validate_query": {
      "post": {
        "summary": "Plan a query as stream_create would, creating nothing",
        "operationId": "validate_query",
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ValidateQueryPost"}}}},
        "responses": {
          "200": {"description": "The query plans", "content": {"application/json": {"schema": {"type": "object", "properties": {"valid": {"type": "boolean"}}}}}},
          "400": {"$ref": "#/components/responses/Error"},
          "401": {"$ref": "#/components/responses/Error"},
          "403": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/pipelines/preview": {
      "post": {
        "summary": "Run a query as a temporary pipeline (stream_preview) and stream its rows as Server-Sent Events: events \"row\" ({op, window_start, window_end, row}), then one \"end\" ({reason: ended | max_rows | timeout}) or \"error\" ({error, sqlstate})",
        "operationId": "preview_pipeline",
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PreviewPost"}}}},
        "responses": {
          "200": {"description": "The rows, as they come", "content": {"text/event-stream": {"schema": {"type": "string"}}}},
          "400": {"$ref": "#/components/responses/Error"},
          "401": {"$ref": "#/components/responses/Error"},
          "403": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/pipelines/{name}": {
      "parameters": [{"$ref": "#/components/parameters/name"}],
      "get": {
        "summary": "One pipeline",
        "operationId": "get_pipeline",
        "responses": {
          "200": {"description": "The pipeline", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pipeline"}}}},
          "401": {"$ref": "#/components/responses/Error"},
          "404": {"$ref": "#/components/responses/Error"}
        }
      },
      "patch": {
        "summary": "Stop (\"checkpoint\" or \"immediate\": stream_stop, which takes a final checkpoint) or start (\"none\": stream_start) a pipeline",
        "operationId": "patch_pipeline",
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PipelinePatch"}}}},
        "responses": {
          "200": {"description": "The pipeline afterwards", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pipeline"}}}},
          "400": {"$ref": "#/components/responses/Error"},
          "401": {"$ref": "#/components/responses/Error"},
          "403": {"$ref": "#/components/responses/Error"},
          "404": {"$ref": "#/components/responses/Error"}
        }
      },
      "delete": {
        "summary": "Drop a pipeline (stream_drop)",
        "operationId": "delete_pipeline",
        "responses": {
          "204": {"description": "Dropped"},
          "401": {"$ref": "#/components/responses/Error"},
          "403": {"$ref": "#/components/responses/Error"},
          "404": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/pipelines/{name}/checkpoints": {
      "parameters": [{"$ref": "#/components/parameters/name"}],
      "get": {
        "summary": "The pipeline's last checkpoints (the stream_checkpoints view)",
        "operationId": "get_pipeline_checkpoints",
        "responses": {
          "200": {"description": "Checkpoints, oldest first", "content": {"application/json": {"schema": {"type": "object", "properties": {"data": {"type": "array", "items": {"$ref": "#/components/schemas/Checkpoint"}}, "has_more": {"type": "boolean"}}}}}},
          "401": {"$ref": "#/components/responses/Error"},
          "404": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/pipelines/{name}/errors": {
      "parameters": [{"$ref": "#/components/parameters/name"}],
      "get": {
        "summary": "Why the pipeline's last run failed (its last_error), if it did",
        "operationId": "get_pipeline_errors",
        "responses": {
          "200": {"description": "Zero or one error", "content": {"application/json": {"schema": {"type": "object", "properties": {"data": {"type": "array", "items": {"$ref": "#/components/schemas/PipelineError"}}, "has_more": {"type": "boolean"}}}}}},
          "401": {"$ref": "#/components/responses/Error"},
          "404": {"$ref": "#/components/responses/Error"}
        }
      }
    }
  },
  "components": {
    "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
    "parameters": {
      "name": {"name": "name", "in": "path", "required": true, "description": "The pipeline's name (URL-encoded)", "schema": {"type": "string"}}
    },
    "responses": {
      "Error": {"description": "An error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    },
    "schemas": {
      "Error": {
        "type": "object",
        "required": ["error", "sqlstate"],
        "properties": {
          "error": {"type": "string", "description": "PostgreSQL's message"},
          "sqlstate": {"type": "string", "description": "PostgreSQL's SQLSTATE, e.g. 42501"},
          "detail": {"type": "string"},
          "hint": {"type": "string"}
        }
      },
      "PipelinePost": {
        "type": "object",
        "required": ["name", "query"],
        "properties": {
          "name": {"type": "string"},
          "query": {"type": "string", "description": "INSERT INTO target SELECT ..., optionally preceded by SET lines"},
          "parallelism": {"type": "integer", "minimum": 1, "maximum": 32, "description": "Workers running the pipeline (becomes a SET parallelism line before the query)"},
          "checkpoint_interval_micros": {"type": "integer", "minimum": 1, "description": "Becomes a SET checkpoint_interval line before the query"},
          "udfs": {"type": "array", "maxItems": 0},
          "preview": {"type": "boolean", "enum": [false]}
        }
      },
      "PipelinePatch": {
        "type": "object",
        "properties": {
          "stop": {"type": "string", "enum": ["none", "checkpoint", "immediate"]},
          "parallelism": {"type": "integer", "minimum": 1, "maximum": 32, "description": "Another parallelism rescales the pipeline (stream_rescale): it stops with a final checkpoint and starts again as that many workers, its state redistributed by key group"}
        }
      },
      "PreviewPost": {
        "type": "object",
        "required": ["query"],
        "properties": {
          "query": {"type": "string", "description": "SELECT ... (or a pipeline's INSERT INTO ... SELECT ...), optionally preceded by SET lines"},
          "max_rows": {"type": "integer", "minimum": 1, "default": 100},
          "timeout_micros": {"type": "integer", "minimum": 1, "default": 10000000},
          "udfs": {"type": "array", "maxItems": 0}
        }
      },
      "ValidateQueryPost": {
        "type": "object",
        "required": ["query"],
        "properties": {"query": {"type": "string"}, "udfs": {"type": "array", "maxItems": 0}}
      },
      "Pipeline": {
        "type": "object",
        "description": "A row of the stream_pipelines view",
        "properties": {
          "name": {"type": "string"},
          "state": {"type": "string", "enum": ["created", "running", "finished", "stopped", "failed"]},
          "query": {"type": "string"},
          "owner": {"type": "string"},
          "started_at": {"type": "string", "format": "date-time", "nullable": true},
          "rows_in": {"type": "integer"},
          "rows_out": {"type": "integer"},
          "bad_rows": {"type": "integer"},
          "late_rows": {"type": "integer"},
          "watermark": {"type": "string", "format": "date-time", "nullable": true},
          "state_bytes": {"type": "integer"},
          "last_error": {"type": "string", "nullable": true},
          "pid": {"type": "integer", "nullable": true},
          "slot_lag_bytes": {"type": "integer", "nullable": true},
          "source_status": {"type": "string", "nullable": true},
          "last_checkpoint_at": {"type": "string", "format": "date-time", "nullable": true}
        }
      },
      "PipelineList": {
        "type": "object",
        "properties": {"data": {"type": "array", "items": {"$ref": "#/components/schemas/Pipeline"}}, "has_more": {"type": "boolean"}}
      },
      "Checkpoint": {
        "type": "object",
        "properties": {
          "pipeline": {"type": "string"},
          "epoch": {"type": "integer"},
          "time": {"type": "string", "format": "date-time"},
          "bytes": {"type": "integer"},
          "duration": {"type": "string", "description": "A PostgreSQL interval"}
        }
      },
      "PipelineError": {
        "type": "object",
        "properties": {"level": {"type": "string", "enum": ["error"]}, "state": {"type": "string"}, "message": {"type": "string"}}
      }
    }
  }
})json";
}

}  // namespace arroyo
